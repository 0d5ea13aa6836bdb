/** Through HTTP across real nodes joined by bootstrap on loopback: replication, quorum statuses, topology, remote events. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startHttpServer, type StartedHttpServer } from '../../src/http/index.ts'
import { waitFor } from '../helpers/wait.ts'
import { SseReader, startNode } from './helpers.ts'
import type { RepramNode } from '../../src/index.ts'

const nodes: RepramNode[] = []
const servers: StartedHttpServer[] = []
let a: StartedHttpServer
let b: StartedHttpServer
let c: StartedHttpServer
const WRITE_TIMEOUT = 400

test.before(async () => {
  const na = await startNode()
  nodes.push(na)
  nodes.push(await startNode({ bootstrap: [na.multiaddrs[0]] }))
  nodes.push(await startNode({ bootstrap: [na.multiaddrs[0]] }))
  for (const n of nodes) servers.push(await startHttpServer(n, { rateLimit: false, writeTimeout: WRITE_TIMEOUT }))
  ;[a, b, c] = servers
  await waitFor(() => nodes[0].peers.length === 2 && nodes[1].peers.length >= 1 && nodes[2].peers.length >= 1, { timeout: 15_000, message: 'the nodes to connect' })
})

test.after(async () => {
  for (const s of servers) await s.close().catch(() => {})
  await Promise.all(nodes.map(async n => { await n.stop() }))
})

async function putVia (server: StartedHttpServer, key: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number, body: { confirmations: number, version: string } }> {
  const res = await fetch(`${server.url}/v1/data/${encodeURIComponent(key)}`, { method: 'PUT', headers, body })
  return { status: res.status, body: await res.json() as { confirmations: number, version: string } }
}

test('PUT on A is served by GET on B and C', async () => {
  const put = await putVia(a, 'shared', 'from A', { 'X-TTL': '60', 'Content-Type': 'text/plain' })
  assert.is(put.status, 201, 'confirmed by one peer (writeQuorum 1)')
  assert.ok(put.body.confirmations >= 1)
  for (const server of [b, c]) {
    const res = await waitFor(async () => {
      const r = await fetch(`${server.url}/v1/data/shared`)
      return r.status === 200 ? r : undefined
    }, { timeout: 5000, message: `the value on ${server.url}` })
    assert.is(await res.text(), 'from A')
    assert.is(res.headers.get('content-type'), 'text/plain')
    assert.is(res.headers.get('x-original-ttl'), '60')
    assert.is(res.headers.get('x-version'), put.body.version)
  }
})

test('writeQuorum 2 with two peers: 201 with two confirmations', async () => {
  const strict = await startHttpServer(nodes[0], { rateLimit: false, writeQuorum: 2, writeTimeout: 3000 })
  try {
    const put = await putVia(strict, 'two-acks', 'x')
    assert.is(put.status, 201)
    assert.is(put.body.confirmations, 2)
  } finally {
    await strict.close()
  }
})

test('a quorum larger than the peers: 202 after writeTimeout, the value still replicates', async () => {
  const greedy = await startHttpServer(nodes[0], { rateLimit: false, writeQuorum: 3, writeTimeout: WRITE_TIMEOUT })
  try {
    const started = Date.now()
    const put = await putVia(greedy, 'not-enough', 'still stored')
    const elapsed = Date.now() - started
    assert.is(put.status, 202)
    assert.ok(elapsed >= WRITE_TIMEOUT - 50, `waited for the quorum (${elapsed} ms)`)
    assert.ok(put.body.confirmations <= 2)
    assert.is(await (await fetch(`${a.url}/v1/data/not-enough`)).text(), 'still stored')
    await waitFor(async () => (await fetch(`${c.url}/v1/data/not-enough`)).status === 200, { timeout: 5000, message: 'replication to C' })
  } finally {
    await greedy.close()
  }
})

test('writeQuorum 0: 201 at once', async () => {
  const relaxed = await startHttpServer(nodes[1], { rateLimit: false, writeQuorum: 0 })
  try {
    const put = await putVia(relaxed, 'no-wait', 'x')
    assert.is(put.status, 201)
    assert.is(put.body.confirmations, 0)
  } finally {
    await relaxed.close()
  }
})

test('DELETE on B removes the key on A', async () => {
  assert.is((await putVia(a, 'to-delete', 'x')).status, 201)
  await waitFor(async () => (await fetch(`${b.url}/v1/data/to-delete`)).status === 200, { timeout: 5000, message: 'the value on B' })
  assert.is((await fetch(`${b.url}/v1/data/to-delete`, { method: 'DELETE' })).status, 204)
  await waitFor(async () => (await fetch(`${a.url}/v1/data/to-delete`)).status === 404, { timeout: 5000, message: 'the deletion on A' })
})

test('GET /v1/topology lists the connected peers with their addresses', async () => {
  const topo = await (await fetch(`${a.url}/v1/topology`)).json() as { peer_id: string, peers: Array<{ peer_id: string, addresses: string[] }> }
  assert.is(topo.peer_id, nodes[0].peerId)
  assert.equal(topo.peers.map(p => p.peer_id).sort(), [nodes[1].peerId, nodes[2].peerId].sort())
  for (const p of topo.peers) assert.ok(p.addresses.length > 0 && p.addresses.every(x => x.startsWith('/ip4/127.0.0.1/')), JSON.stringify(p))
  const status = await (await fetch(`${a.url}/v1/status`)).json() as { peers: number }
  assert.is(status.peers, 2)
})

test('a write made through A reaches a watcher on C as a remote set', async () => {
  const res = await fetch(`${c.url}/v1/watch?prefix=live-`)
  const sse = new SseReader(res)
  try {
    await sse.comment('watching')
    await putVia(a, 'live-1', 'hello C')
    const set = await sse.next({ timeout: 5000 })
    assert.is(set.event, 'set')
    const data = JSON.parse(set.data)
    assert.is(data.key, 'live-1')
    assert.is(data.value, 'hello C')
    assert.is(data.local, false)
    assert.is(data.origin, nodes[0].peerId)
  } finally {
    await sse.cancel()
  }
})

test.run()
