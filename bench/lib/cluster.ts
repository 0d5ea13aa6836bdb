/**
 * Nodes for the replication benchmarks, on loopback with mDNS off:
 *
 * - REPRAM nodes (`RepramNode`), anti-entropy off so no background sync
 *   round lands in a measurement;
 * - raw gossipsub nodes, the baseline: built by the same `createNetwork`
 *   as a RepramNode (same transports, muxer, encryption, gossipsub options),
 *   subscribed to a topic, with nothing on top.
 *
 * Both kinds are connected as a full mesh and used only once gossip has
 * been seen to reach every node.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { RepramNode, resolveConfig } from '../../src/index.ts'
import { createNetwork, protocolIds } from '../../src/network.ts'
import { makeValue, until } from './stats.ts'
import type { RepramNodeInit } from '../../src/index.ts'
import type { RepramServices } from '../../src/network.ts'
import type { Libp2p } from '@libp2p/interface'

/** Loopback only, no multicast, no background sync rounds, short TTLs allowed. */
export const BENCH_NODE_INIT: RepramNodeInit = {
  network: 'bench',
  listen: ['/ip4/127.0.0.1/tcp/0'],
  mdns: false,
  syncInterval: 0,
  minTtl: 100,
  maxEntries: 5_000_000,
  maxBytes: 4 * 1024 * 1024 * 1024
}

export const RAW_TOPIC = protocolIds('bench-raw').topic

// --- REPRAM nodes ----------------------------------------------------------------

export async function startRepramNode (init: RepramNodeInit = {}): Promise<RepramNode> {
  const node = new RepramNode({ ...BENCH_NODE_INIT, ...init })
  await node.start()
  return node
}

/** `n` started REPRAM nodes, connected as a full mesh, gossip flowing. Stopped again on failure. */
export async function startRepramCluster (n: number, init: RepramNodeInit = {}): Promise<RepramNode[]> {
  const nodes: RepramNode[] = []
  try {
    for (let i = 0; i < n; i++) nodes.push(await startRepramNode(init))
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        if (!await nodes[i].dial(nodes[j].multiaddrs[0])) throw new Error(`node ${i} could not dial node ${j}`)
      }
    }
    await until(() => nodes.every(node => node.peers.length >= n - 1), `every REPRAM node to see ${n - 1} peers`, 20_000, 5)
    await repramGossipReady(nodes)
    return nodes
  } catch (err) {
    await stopAll(nodes)
    throw err
  }
}

/**
 * Waits until a put on each node reaches every other node (subscriptions
 * are known a little after a connection; a put made before that went nowhere,
 * so the probe is re-put now and then, each time as a new version).
 */
async function repramGossipReady (nodes: RepramNode[]): Promise<void> {
  for (const [i, from] of nodes.entries()) {
    const key = `ready/${i}`
    const got = new Set<number>()
    const offs = nodes.map((node, j) => {
      const listener = (evt: CustomEvent<{ key: string, local: boolean }>): void => {
        if (evt.detail.key === key && !evt.detail.local) got.add(j)
      }
      node.addEventListener('entry:set', listener)
      return () => { node.removeEventListener('entry:set', listener) }
    })
    try {
      let attempt = 0
      await until(() => {
        if (attempt++ % 50 === 0) void from.put(key, String(attempt), { ttl: 60_000 })
        return got.size >= nodes.length - 1
      }, `gossip from node ${i} to reach every node`, 20_000, 2)
    } finally {
      for (const off of offs) off()
    }
  }
}

// --- raw gossipsub nodes -------------------------------------------------------------

export interface RawNode {
  libp2p: Libp2p<RepramServices>
  peerId: string
  multiaddrs: string[]
  /** Gets every message delivered on the topic. */
  onMessage: (data: Uint8Array) => void
  publish: (data: Uint8Array) => Promise<void>
  subscribers: () => number
  stop: () => Promise<void>
}

/** A libp2p node exactly as a RepramNode builds it, subscribed to `RAW_TOPIC`, nothing more. */
export async function startRawNode (): Promise<RawNode> {
  const config = resolveConfig({ ...BENCH_NODE_INIT, network: 'bench-raw' })
  const libp2p = await createNetwork(config, await generateKeyPair('Ed25519'), {})
  await libp2p.start()
  const pubsub = libp2p.services.pubsub
  const node: RawNode = {
    libp2p,
    peerId: libp2p.peerId.toString(),
    multiaddrs: libp2p.getMultiaddrs().map(String),
    onMessage: () => {},
    publish: async (data) => { await pubsub.publish(RAW_TOPIC, data) },
    subscribers: () => pubsub.getSubscribers(RAW_TOPIC).length,
    stop: async () => { await libp2p.stop() }
  }
  pubsub.addEventListener('message', (evt) => {
    if (evt.detail.topic === RAW_TOPIC) node.onMessage(evt.detail.data)
  })
  pubsub.subscribe(RAW_TOPIC)
  return node
}

export async function dialRaw (from: RawNode, addr: string): Promise<void> {
  await from.libp2p.dial(multiaddr(addr), { signal: AbortSignal.timeout(10_000) })
}

/** `n` raw gossipsub nodes, full mesh, a message from each seen by all. */
export async function startRawCluster (n: number): Promise<RawNode[]> {
  const nodes: RawNode[] = []
  try {
    for (let i = 0; i < n; i++) nodes.push(await startRawNode())
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) await dialRaw(nodes[i], nodes[j].multiaddrs[0])
    }
    await until(() => nodes.every(node => node.subscribers() >= n - 1), `every raw node to see ${n - 1} subscribers`, 20_000, 5)
    await rawGossipReady(nodes)
    return nodes
  } catch (err) {
    await stopAll(nodes)
    throw err
  }
}

/** Publishes probes (sequence number -1) from each node until every other node got one. */
async function rawGossipReady (nodes: RawNode[]): Promise<void> {
  for (const [i, from] of nodes.entries()) {
    const got = new Set<number>()
    for (const [j, node] of nodes.entries()) {
      node.onMessage = (data) => { if (readSeq(data) === -1) got.add(j) }
    }
    try {
      let attempt = 0
      await until(() => {
        // every probe differs (a message id is the hash of its bytes, and repeats are dropped)
        if (attempt++ % 50 === 0) void from.publish(probe(i, attempt)).catch(() => {})
        return got.size >= nodes.length - 1
      }, `raw gossip from node ${i} to reach every node`, 20_000, 2)
    } finally {
      for (const node of nodes) node.onMessage = () => {}
    }
  }
}

function probe (node: number, attempt: number): Uint8Array {
  const data = makeValue(64, -1)
  const view = new DataView(data.buffer)
  view.setFloat64(8, node)
  view.setFloat64(16, attempt)
  view.setFloat64(24, Math.random())
  return data
}

/** The sequence number `makeValue` wrote into a payload. */
export function readSeq (data: Uint8Array): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getFloat64(0)
}

export async function stopAll (nodes: Array<{ stop: () => Promise<void> } | undefined>): Promise<void> {
  await Promise.allSettled(nodes.map(async n => { await n?.stop() }))
}
