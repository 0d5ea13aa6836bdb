import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { RepramNode, compareVersions, parseVersion } from '../../src/index.ts'
import { startCluster, startNode, stopAll, text, waitForGossip, waitForPeers } from '../helpers/nodes.ts'
import { waitFor } from '../helpers/wait.ts'
import type { PutReceipt } from '../../src/index.ts'

const test = suite('convergence')
const started: RepramNode[] = []
test.after(async () => { await stopAll(started) })

test('concurrent writers to one key converge to the newest version on every node', async () => {
  const nodes = await startCluster(3, { syncInterval: 1000 })
  started.push(...nodes)
  await waitForPeers(nodes)
  await waitForGossip(nodes[0], nodes)
  const receipts: Array<PutReceipt & { origin: string }> = []
  await Promise.all(nodes.map(async (n, i) => {
    for (let round = 0; round < 30; round++) {
      const r = await n.put('race', `node ${i} round ${round}`, { ttl: 60_000 })
      receipts.push({ ...r, origin: n.peerId })
      if (round % 5 === 0) await new Promise(resolve => setImmediate(resolve))
    }
  }))
  const newest = receipts.reduce((best, r) => {
    const a = parseVersion(r.version)!
    const b = parseVersion(best.version)!
    return compareVersions(a.wall, a.counter, r.origin, b.wall, b.counter, best.origin) > 0 ? r : best
  })
  await waitFor(async () => {
    const entries = await Promise.all(nodes.map(async n => await n.get('race')))
    return entries.every(e => e?.version === newest.version && e.origin === newest.origin)
  }, { message: 'every node to hold the newest write' })
  const values = await Promise.all(nodes.map(async n => text((await n.get('race'))?.value)))
  assert.is(new Set(values).size, 1)
})

test('20 nodes on one host all converge', async () => {
  const nodes = await startCluster(20, { syncInterval: 2000 })
  started.push(...nodes)
  await waitForPeers(nodes, 30_000)
  for (let i = 0; i < nodes.length; i++) await nodes[i].put(`n/${i}`, `from ${i}`, { ttl: 120_000 })
  const expected = Array.from({ length: 20 }, (_, i) => `n/${i}`).sort()
  await waitFor(() => nodes.every(n => n.keys({ prefix: 'n/' }).length === 20), { timeout: 30_000, message: 'all 20 nodes to hold all 20 entries' })
  for (const n of nodes) assert.equal(n.keys({ prefix: 'n/' }), expected)
  await nodes[7].put('n/7', 'changed', { ttl: 120_000 })
  await waitFor(async () => (await Promise.all(nodes.map(async n => text((await n.get('n/7'))?.value)))).every(v => v === 'changed'), { timeout: 30_000, message: 'an overwrite to reach all 20' })
})

test('two network names on the same host do not mix', async () => {
  const alpha = await startCluster(2, { network: 'alpha' })
  started.push(...alpha)
  await waitForPeers(alpha)
  const beta = await startNode({ network: 'beta', bootstrap: [alpha[0].multiaddrs[0]] })
  started.push(beta)
  await waitFor(() => (beta as any).running.libp2p.getConnections().length > 0, { message: 'beta to connect at the transport level' })
  await alpha[1].put('secret', 'alpha only', { ttl: 60_000 })
  await waitFor(async () => (await alpha[0].get('secret')) !== undefined)
  await beta.put('other', 'beta only', { ttl: 60_000 })
  await alpha[0].syncWith(alpha[1].peerId)
  assert.is(beta.peers.length, 0, 'no REPRAM peer across networks')
  assert.not.ok(alpha[0].peers.includes(beta.peerId))
  assert.is(await beta.get('secret'), undefined)
  assert.is(await alpha[0].get('other'), undefined)
})

test.run()
