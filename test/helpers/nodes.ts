/** Real RepramNodes on loopback for tests: mDNS off, short timers, stopped afterwards. */
import { RepramNode } from '../../src/index.ts'
import { waitFor } from './wait.ts'
import type { RepramNodeInit } from '../../src/index.ts'

export const LOOPBACK: RepramNodeInit = {
  listen: ['/ip4/127.0.0.1/tcp/0'],
  mdns: false,
  minTtl: 50
}

export async function startNode (init: RepramNodeInit = {}): Promise<RepramNode> {
  const node = new RepramNode({ ...LOOPBACK, ...init })
  await node.start()
  return node
}

/** Starts `n` nodes; each after the first bootstraps from the first (a star that gossip meshes over). */
export async function startCluster (n: number, init: RepramNodeInit = {}): Promise<RepramNode[]> {
  const first = await startNode(init)
  const rest = await Promise.all(Array.from({ length: n - 1 }, async () => await startNode({ ...init, bootstrap: [first.multiaddrs[0]] })))
  return [first, ...rest]
}

/**
 * Waits until the cluster from `startCluster` is joined: the first node
 * (the bootstrap hub) sees every other node, and every other node sees it.
 */
export async function waitForPeers (nodes: RepramNode[], timeout = 15_000): Promise<void> {
  const [hub, ...rest] = nodes
  await waitFor(() => hub.peers.length >= rest.length && rest.every(n => n.peers.includes(hub.peerId)), {
    timeout,
    message: `the cluster to join (peers: ${nodes.map(n => n.peers.length).join(',')})`
  })
}

/**
 * Waits until a write on `from` reaches every other node by gossip: proof
 * that the gossip mesh is up (subscriptions are known a little after a connection).
 */
export async function waitForGossip (from: RepramNode, nodes: RepramNode[], timeout = 15_000): Promise<void> {
  const key = `probe/${Math.random().toString(36).slice(2)}`
  let attempt = 0
  await waitFor(async () => {
    const value = String(++attempt)
    await from.put(key, value, { ttl: 60_000 })
    const deadline = Date.now() + 300
    while (Date.now() < deadline) {
      const seen = await Promise.all(nodes.filter(n => n !== from).map(async n => text((await n.get(key))?.value)))
      if (seen.every(v => v === value)) return true
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    return false
  }, { timeout, message: 'gossip to reach every node', interval: 1 })
  await from.delete(key)
}

export async function stopAll (nodes: Array<RepramNode | undefined>): Promise<void> {
  await Promise.allSettled(nodes.map(async n => { await n?.stop() }))
}

export const text = (bytes: Uint8Array | undefined): string | undefined => bytes === undefined ? undefined : new TextDecoder().decode(bytes)
