/**
 * Nodes on a real (namespaced) LAN, started with mDNS only and no peer list,
 * find each other and replicate; a host that joins later catches up through
 * the sync protocol; a second network on the same LAN stays separate.
 *
 * Each node is its own process in its own network namespace, so discovery
 * goes through real multicast on a real bridge. Needs root; skipped (with the
 * reason printed) otherwise.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { PutReceipt, NodeStats } from '../../src/types.ts'
import { createLan, netnsSupport, NETNS_ENV } from '../helpers/netns.ts'
import type { Lan, LanHost } from '../helpers/netns.ts'
import { lanNodeArgs, NodeProcess, spawnLanNode } from '../helpers/node-process.ts'
import { waitFor } from '../helpers/wait.ts'

const NET_A = 'lan-a'
const NET_B = 'lan-b'
const MDNS_INTERVAL_MS = 500
/** Process start-up: loading the stack takes seconds when several nodes start at once on 2 cores. */
const READY_DEADLINE_MS = 60_000
/** Discovery and replication: a few mDNS rounds, dials and sync rounds, with room for a loaded machine. */
const DEADLINE_MS = 30_000

/** An `Entry` as the fixture prints it: `value` as UTF-8 text. */
interface EntryJson { key: string, value: string, expiresAt: number, createdAt: number, version: string, origin: string }

const timings: Array<[string, number]> = []
async function timed<T> (label: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now()
  try {
    return await fn()
  } finally {
    timings.push([label, Date.now() - started])
  }
}

const support = netnsSupport()
if (!support.ok) {
  console.log(`skipping mDNS LAN tests: ${support.reason}`)
  test.skip('mDNS LAN')
} else {
  let lan: Lan | undefined
  const all: NodeProcess[] = []
  /** Network A nodes, one per host, in host order. */
  const a: NodeProcess[] = []
  const b: NodeProcess[] = []

  async function startNode (host: LanHost, network: string, label: string): Promise<NodeProcess> {
    const node = spawnLanNode(host, { network, mdns: MDNS_INTERVAL_MS, minTtl: 100, label })
    all.push(node)
    const ready = await node.ready({ timeout: READY_DEADLINE_MS })
    assert.is(ready.netns, host.name, `${label} runs inside its namespace`)
    assert.is(ready.network, network)
    assert.ok(ready.multiaddrs.some(m => m.startsWith(`/ip4/${host.ip}/tcp/`)), `${label} has an address on the LAN: ${ready.multiaddrs.join(' ')}`)
    return node
  }

  async function sees (node: NodeProcess, others: NodeProcess[]): Promise<void> {
    for (const other of others) {
      await node.waitForEvent('peer:join', e => e.peerId === other.peerId, { timeout: DEADLINE_MS })
    }
  }

  async function readEventually (node: NodeProcess, key: string): Promise<EntryJson> {
    try {
      return await waitFor(async () => await node.request<EntryJson | null>('get', { key }), {
        timeout: DEADLINE_MS,
        interval: 50,
        message: `${node.label} to hold "${key}"`
      })
    } catch (err) {
      const stats = await node.request<NodeStats>('stats').catch(() => undefined)
      throw new Error(`${(err as Error).message}; its peers: ${stats?.peers}, counters: ${JSON.stringify(stats?.counters)}`)
    }
  }

  test.after(async () => {
    try {
      const codes = await Promise.all(all.map(async n => await n.stop()))
      codes.forEach((code, i) => { if (code !== 0) console.log(`${all[i].label} exited with ${code}\n${all[i].stderr}`) })
    } finally {
      await lan?.destroy()
    }
    console.log('timings (ms): ' + timings.map(([label, ms]) => `${label} ${ms}`).join(', '))
  })

  test('three hosts with mDNS only (no peer list) find each other', async () => {
    lan = await timed('create LAN', async () => await createLan({ hosts: 3 }))
    const hosts = lan.hosts
    a.push(...await timed('start 3 nodes', async () => await Promise.all(hosts.map(async (h, i) => await startNode(h, NET_A, `A${i + 1}`)))))
    await timed('3-way discovery', async () => {
      await Promise.all(a.map(async (node, i) => await sees(node, a.filter((_, j) => j !== i))))
    })
    for (const [i, node] of a.entries()) {
      const peers = await node.request<string[]>('peers')
      assert.equal([...peers].sort(), a.filter((_, j) => j !== i).map(n => n.peerId).sort(), `${node.label} peers`)
      // The connections run over the LAN, between the hosts' own addresses.
      const info = await node.request<Array<{ peerId: string, addresses: string[] }>>('peerInfo')
      for (const [j, other] of a.entries()) {
        if (j === i) continue
        const addresses = info.find(p => p.peerId === other.peerId)?.addresses ?? []
        assert.ok(addresses.some(addr => addr.includes(`/ip4/${hosts[j].ip}/`)), `${node.label} reaches ${other.label} at ${hosts[j].ip}: ${addresses.join(' ')}`)
      }
    }
  })

  test('the fixture refuses mDNS unless it runs inside the test namespace named in its environment', async () => {
    // Run inside host 1 (so even a broken guard could not multicast outside
    // the LAN), once claiming to be host 2 and once with no claim at all.
    const host = lan!.hosts[0]
    for (const envArgs of [[`${NETNS_ENV}=${lan!.hosts[1].name}`], ['-u', NETNS_ENV]]) {
      const child = host.spawn('env', [...envArgs, process.execPath, ...lanNodeArgs({ network: 'lan-guard' })], { stdio: ['pipe', 'pipe', 'pipe'] })
      const node = new NodeProcess(child, { label: `guard ${envArgs.join(' ')}` })
      try {
        await node.ready({ timeout: READY_DEADLINE_MS })
        assert.unreachable('the fixture started with mDNS')
      } catch (err) {
        const message = (err as Error).message
        assert.ok(message.includes('UnsafeMdnsError'), message)
      } finally {
        assert.is(await node.stop(), 2)
      }
    }
  })

  test('a put on host 1 is readable on hosts 2 and 3', async () => {
    const receipt = await a[0].request<PutReceipt>('put', { key: 'lan/greeting', value: 'hello, LAN', ttl: 120_000 })
    assert.is(receipt.key, 'lan/greeting')
    await timed('replicate to 2 hosts', async () => {
      for (const node of [a[1], a[2]]) {
        const entry = await readEventually(node, 'lan/greeting')
        assert.is(entry.value, 'hello, LAN')
        assert.is(entry.origin, a[0].peerId)
        assert.is(entry.version, receipt.version)
        assert.is(entry.expiresAt, receipt.expiresAt)
      }
    })
    // A second entry for the late joiner, with its own expiry.
    const second = await a[1].request<PutReceipt>('put', { key: 'lan/second', value: 'from host 2', ttl: 90_000 })
    for (const node of [a[0], a[2]]) assert.is((await readEventually(node, 'lan/second')).expiresAt, second.expiresAt)
  })

  test('a host joining the LAN later sees the others and catches up through sync', async () => {
    const late = await timed('add host', async () => await lan!.addHost())
    const a4 = await timed('start late node', async () => await startNode(late, NET_A, 'A4'))
    await timed('late node discovery', async () => {
      await Promise.all([sees(a4, a.slice(0, 3)), ...a.slice(0, 3).map(async n => await sees(n, [a4]))])
    })
    a.push(a4)
    // Nothing was written since it joined, and gossip has no history: what
    // it holds came through the sync protocol.
    await timed('late node catch-up', async () => {
      const greeting = await readEventually(a4, 'lan/greeting')
      assert.is(greeting.value, 'hello, LAN')
      assert.is(greeting.origin, a[0].peerId)
      assert.is((await readEventually(a4, 'lan/second')).value, 'from host 2')
    })
    assert.equal(await a4.request('keys'), ['lan/greeting', 'lan/second'])
    const stats = await a4.request<NodeStats>('stats')
    assert.ok(stats.counters.syncEntriesReceived >= 2, `entries arrived by sync (counters: ${JSON.stringify(stats.counters)})`)
    assert.is(stats.peers, 3)
  })

  test('another network on the same LAN does not mix with the first', async () => {
    // B1 on a host of its own, B2 next to A2 on host 2 (same address, same mDNS port).
    const hostB = await lan!.addHost()
    b.push(await startNode(hostB, NET_B, 'B1'), await startNode(lan!.hosts[1], NET_B, 'B2'))
    // Positive control: network B discovery and replication work on this LAN.
    await timed('network B discovery', async () => { await Promise.all([sees(b[0], [b[1]]), sees(b[1], [b[0]])]) })
    await b[0].request('put', { key: 'lan/b-only', value: 'network B', ttl: 120_000 })
    assert.is((await readEventually(b[1], 'lan/b-only')).value, 'network B')
    // Fresh network A traffic while B is up: it reaches all of A and none of B.
    await a[2].request('put', { key: 'lan/after-b', value: 'network A', ttl: 120_000 })
    for (const node of a) await readEventually(node, 'lan/after-b')

    const aIds = new Set(a.map(n => n.peerId))
    const bIds = new Set(b.map(n => n.peerId))
    for (const [i, node] of b.entries()) {
      assert.equal(await node.request('peers'), [b[1 - i].peerId], `${node.label} peers`)
      assert.equal(await node.request('keys'), ['lan/b-only'], `${node.label} keys`)
      assert.is(node.events.filter(e => e.event === 'peer:join' && aIds.has(e.peerId as string)).length, 0, `${node.label} never joined an A peer`)
      assert.is(node.events.filter(e => e.event === 'entry:set' && e.key !== 'lan/b-only').length, 0, `${node.label} never stored an A entry`)
    }
    for (const node of a) {
      const peers = await node.request<string[]>('peers')
      assert.is(peers.length, 3, `${node.label} peers: ${peers.join(' ')}`)
      assert.not.ok(peers.some(p => bIds.has(p)), `${node.label} has a B peer`)
      assert.equal(await node.request('keys'), ['lan/after-b', 'lan/greeting', 'lan/second'], `${node.label} keys`)
    }
  })
}

test.run()
