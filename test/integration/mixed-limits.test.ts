/**
 * Nodes with different value limits: a newer version that one node cannot
 * hold (its value over that node's maxValueBytes, its TTL over that node's
 * maxTtl) still replaces the older
 * version there, by gossip and by sync, so the older value is not served as
 * current; the two nodes' sync digests agree; and the marker left in its
 * place never reaches a node that can hold the value.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startNode, stopAll, text, waitForGossip, waitForPeers } from '../helpers/nodes.ts'
import { waitFor } from '../helpers/wait.ts'
import type { Change, RepramNode } from '../../src/index.ts'
import type { MemoryStore } from '../../src/store/memory-store.ts'

const test = suite('mixed value limits')
const started: RepramNode[] = []
test.after(async () => { await stopAll(started) })

const SMALL = { maxValueBytes: 1024, syncInterval: 0 }
const big = (bytes: number): Uint8Array => new Uint8Array(bytes).fill(7)

async function pair (): Promise<[RepramNode, RepramNode]> {
  const writer = await startNode({ syncInterval: 0 })
  const small = await startNode({ ...SMALL, bootstrap: [writer.multiaddrs[0]] })
  started.push(writer, small)
  await waitForPeers([writer, small])
  await waitForGossip(writer, [writer, small])
  await waitFor(() => small.stats().tombstones === 1, { message: 'the gossip probe\'s delete' })
  return [writer, small]
}

/**
 * Waits for a round started by `a` that moves no more than the 8 KiB
 * summary and the small frames, not the 4 KiB value: the buckets agree.
 * (Polled: a round started when the two reconnected may still be under way.)
 */
async function inSync (a: RepramNode, b: RepramNode): Promise<void> {
  const sent = (): number => a.stats().counters.syncBytesSent + b.stats().counters.syncBytesSent
  await waitFor(async () => {
    const before = sent()
    return await a.syncWith(b.peerId) && sent() - before < 8 * 1024 + 512
  }, { message: 'a round in sync' })
}

test('by gossip: the older value goes, listeners see a delete of the refused version, and a later value that fits is taken', async () => {
  const [writer, small] = await pair()
  const changes: Change[] = []
  small.addEventListener('entry:delete', evt => { if (evt.detail.key === 'k') changes.push(evt.detail) })
  const markers = 1 // the gossip probe's
  await writer.put('k', 'v1 fits', { ttl: 60_000 })
  await waitFor(() => small.getSync('k') !== undefined, { message: 'v1 on the small node' })
  const v2 = await writer.put('k', big(4096), { ttl: 60_000 })
  await waitFor(() => small.getSync('k') === undefined, { message: 'v1 to go on the small node' })
  assert.equal(changes.map(c => c.type === 'delete' && [c.key, c.version, c.origin, c.local]), [['k', v2.version, writer.peerId, false]])
  assert.is(small.stats().tombstones, markers + 1)
  assert.ok(small.stats().counters.rejected >= 1)
  await inSync(small, writer)
  await inSync(writer, small)
  await writer.put('k', 'v3 fits again', { ttl: 60_000 })
  await waitFor(() => small.getSync('k') !== undefined, { message: 'v3 on the small node' })
  assert.is(text(small.getSync('k')?.value), 'v3 fits again')
})

test('by sync: a node that missed the write drops the older value at the next round; a node that can hold the value, joining through it, still gets the value', async () => {
  const [writer, small] = await pair()
  const markers = 1 // the gossip probe's
  await writer.put('k', 'v1 fits', { ttl: 60_000 })
  await waitFor(() => small.getSync('k') !== undefined, { message: 'v1 on the small node' })
  // The small node misses v2.
  await Promise.all([writer.blockPeer(small.peerId), small.blockPeer(writer.peerId)])
  await waitFor(() => !small.peers.includes(writer.peerId) && !writer.peers.includes(small.peerId), { message: 'the partition' })
  await writer.put('k', big(4096), { ttl: 60_000 })
  assert.is(text(small.getSync('k')?.value), 'v1 fits', 'missed')
  writer.unblockPeer(small.peerId)
  small.unblockPeer(writer.peerId)
  await waitFor(async () => small.getSync('k') === undefined || (await small.syncWith(writer.peerId) && small.getSync('k') === undefined),
    { message: 'a round to take v1 away' })
  assert.is(small.stats().tombstones, markers + 1)
  await inSync(small, writer)
  // A node with the default limits that knows only the small node: no marker of v2 comes to it
  // from there (it would refuse the value as stale), so from the writer it gets the value.
  const late = await startNode({ syncInterval: 0, bootstrap: [small.multiaddrs[0]] })
  started.push(late)
  await waitForPeers([small, late])
  assert.ok(await late.syncWith(small.peerId), 'a round with the small node')
  assert.is(late.stats().tombstones, markers, 'no marker of the refused version (only the probe\'s)')
  assert.is(late.getSync('k'), undefined)
  assert.ok(await late.dial(writer.multiaddrs[0]), 'late dials the writer')
  await waitFor(async () => late.getSync('k') !== undefined || (await late.syncWith(writer.peerId) && late.getSync('k') !== undefined),
    { message: 'the value from the writer' })
  assert.is(late.getSync('k')?.value.length, 4096)
})

test('a delete on the node that could not hold the newest value deletes it everywhere', async () => {
  const [writer, small] = await pair()
  await writer.put('k', 'v1 fits', { ttl: 60_000 })
  await waitFor(() => small.getSync('k') !== undefined, { message: 'v1 on the small node' })
  await writer.put('k', big(4096), { ttl: 60_000 })
  await waitFor(() => small.getSync('k') === undefined, { message: 'v1 to go on the small node' })
  assert.ok(await small.delete('k'), 'there was a value to delete')
  await waitFor(() => writer.getSync('k') === undefined, { message: 'the delete on the writer' })
  assert.not.ok(await small.delete('k'), 'nothing left to delete')
  assert.not.ok(await small.delete('never-seen'))
  // Once the refused value has expired everywhere there is nothing to delete either.
  await writer.put('short', 'v1 fits', { ttl: 60_000 })
  await waitFor(() => small.getSync('short') !== undefined, { message: 'v1 on the small node' })
  await writer.put('short', big(4096), { ttl: 1_500 })
  await waitFor(() => small.getSync('short') === undefined, { message: 'v1 to go on the small node' })
  await waitFor(() => writer.getSync('short') === undefined, { timeout: 5_000, message: 'the value to expire' })
  assert.not.ok(await small.delete('short'), 'the refused value expired')
})

test('a TTL over the node\'s maxTtl: the older value goes there too, behind a marker that lives no longer than that node keeps anything', async () => {
  const writer = await startNode({ syncInterval: 0 })
  const short = await startNode({ maxTtl: 60_000, syncInterval: 0, bootstrap: [writer.multiaddrs[0]] })
  started.push(writer, short)
  await waitForPeers([writer, short])
  await waitForGossip(writer, [writer, short])
  await waitFor(() => short.stats().tombstones === 1, { message: 'the gossip probe\'s delete' })
  await writer.put('k', 'v1, a minute', { ttl: 60_000 })
  await waitFor(() => short.getSync('k') !== undefined, { message: 'v1 on the node with the short maxTtl' })
  await writer.put('k', 'v2, a day', { ttl: 24 * 3_600_000 })
  await waitFor(() => short.getSync('k') === undefined, { message: 'v1 to go' })
  assert.is(short.stats().tombstones, 2)
  const marker = (short as unknown as { store: MemoryStore }).store.record('k')
  assert.is(marker?.value, null)
  assert.ok(marker!.expiresAt <= Date.now() + 60_000 + 30_000, 'no longer than maxTtl + maxClockSkew from now')
  await inSync(short, writer)
  assert.is(text(writer.getSync('k')?.value), 'v2, a day')
})

test('what the refusing node superseded reaches, by its notice, a node that holds the newer value: the older value does not come back there once the newer one expires', async () => {
  const c = await startNode({ syncInterval: 0 })
  const a = await startNode({ ...SMALL, bootstrap: [c.multiaddrs[0]] })
  started.push(c, a)
  await waitForPeers([c, a])
  await c.put('k', 'v0 from c', { ttl: 40_000 })
  await waitFor(() => a.getSync('k') !== undefined, { message: 'v0 on a' })
  // c drops out; b, which never saw v0, writes a newer value that a cannot hold.
  await Promise.all([a.blockPeer(c.peerId), c.blockPeer(a.peerId)])
  await waitFor(() => !a.peers.includes(c.peerId) && !c.peers.includes(a.peerId), { message: 'a and c apart' })
  const b = await startNode({ syncInterval: 0 })
  started.push(b)
  await b.put('k', big(4096), { ttl: 3_000 })
  assert.ok(await b.dial(a.multiaddrs[0]), 'b dials a')
  await waitFor(async () => a.getSync('k') === undefined || (await a.syncWith(b.peerId) && a.getSync('k') === undefined), { message: 'v0 to go on a' })
  await inSync(a, b)
  // v2 expires on b, which then meets c, still holding v0.
  await waitFor(() => b.getSync('k') === undefined, { timeout: 6_000, message: 'v2 to expire' })
  assert.ok(await b.dial(c.multiaddrs[0]), 'b dials c')
  assert.ok(await b.syncWith(c.peerId), 'a round between b and c')
  assert.is(b.getSync('k'), undefined, 'v0 did not come back on b')
  assert.is(b.stats().counters.syncFailures, 0)
})

test.run()
