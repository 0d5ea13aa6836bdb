import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { startCluster, startNode, stopAll, text, waitForGossip, waitForPeers } from '../helpers/nodes.ts'
import { waitFor } from '../helpers/wait.ts'
import { bucketOf, hashKeyUtf8 } from '../../src/store/digest.ts'
import type { RepramNode } from '../../src/index.ts'

const test = suite('sync: late joiners, restarts, partitions')
const started: RepramNode[] = []
test.after(async () => { await stopAll(started) })

async function cluster (n: number, syncInterval = 500): Promise<RepramNode[]> {
  const nodes = await startCluster(n, { syncInterval })
  started.push(...nodes)
  await waitForPeers(nodes)
  await waitForGossip(nodes[0], nodes)
  return nodes
}

/** Cuts the link between a and b both ways; bootstrap loops redial after `heal`. */
async function partition (a: RepramNode, b: RepramNode): Promise<() => void> {
  await Promise.all([a.blockPeer(b.peerId), b.blockPeer(a.peerId)])
  await waitFor(() => !a.peers.includes(b.peerId) && !b.peers.includes(a.peerId), { message: 'the partition' })
  return () => { a.unblockPeer(b.peerId); b.unblockPeer(a.peerId) }
}

test('a newer version that reaches a node already expired (its writer\'s clock 5 s behind) still removes the older value there, by gossip and by sync', async () => {
  const b = await startNode({ syncInterval: 0 })
  const a = await startNode({ syncInterval: 0, bootstrap: [b.multiaddrs[0]], clock: () => Date.now() - 5_000 })
  started.push(a, b)
  await waitForPeers([b, a])
  await waitForGossip(b, [b, a])
  // c, apart from them for now, writes an older version first.
  const c = await startNode({ syncInterval: 0 })
  started.push(c)
  await c.put('behind', 'v0, long-lived', { ttl: 60_000 })
  await b.put('behind', 'v1, long-lived', { ttl: 60_000 })
  await waitFor(() => text(a.getSync('behind')?.value) === 'v1, long-lived', { message: 'a to get v1' })
  // a's clock has seen v1, so v2 is newer; by b's clock it expired 2 s before it was written.
  await a.put('behind', 'v2, 3 s', { ttl: 3_000 })
  await waitFor(() => b.getSync('behind') === undefined, { timeout: 5_000, message: 'v2 to remove v1 on b' })
  assert.ok(b.stats().tombstones >= 1, 'b keeps a marker while v1 could live elsewhere')
  // Sync carries it the same way: c catches up from a.
  assert.ok(await c.dial(a.multiaddrs[0]), 'c dials a')
  await waitFor(() => c.peers.includes(a.peerId), { message: 'a and c connected' })
  assert.ok(await c.syncWith(a.peerId), 'a round between a and c')
  assert.is(c.getSync('behind'), undefined, 'v2 superseded c\'s v0 too')
})

test('a joining node sends nothing back of what it just received, even past what a round can note (400,000 entries)', async () => {
  const [x, y] = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')])
  const [low, high] = peerIdFromPrivateKey(x).toString() < peerIdFromPrivateKey(y).toString() ? [x, y] : [y, x]
  const holder = await startNode({ privateKey: high, syncInterval: 0 })
  started.push(holder)
  const n = 400_000 // 16-byte keys: more than the 64 MiB of notes a round keeps (about 350,000)
  for (let i = 0; i < n; i++) {
    const p = holder.put(`k/${String(i).padStart(14, '0')}`, 'x', { ttl: 600_000 })
    if (i % 1000 === 999) await p
  }
  const joiner = await startNode({ privateKey: low, syncInterval: 0, bootstrap: [holder.multiaddrs[0]] })
  started.push(joiner)
  await waitFor(() => joiner.stats().entries === n && joiner.stats().counters.syncRounds >= 1, { timeout: 60_000, interval: 100, message: 'the joiner to catch up' })
  const sent = joiner.stats().counters.syncBytesSent
  assert.ok(sent < 64 * 1024, `the joiner sent ${sent} bytes: its summary and END, no records`)
  assert.is(holder.stats().counters.syncEntriesReceived, 0)
  await Promise.all([holder.stop(), joiner.stop()])
})

test('a late joiner gets every live entry, markers included', async () => {
  const [a, b] = await cluster(2)
  for (let i = 0; i < 500; i++) await (i % 2 === 0 ? a : b).put(`item/${i}`, `value ${i}`, { ttl: 60_000 })
  await a.delete('item/0')
  await waitFor(() => a.keys({ prefix: 'item/' }).length === 499 && b.keys({ prefix: 'item/' }).length === 499)
  const late = await startNode({ bootstrap: [b.multiaddrs[0]] })
  started.push(late)
  await waitFor(() => late.keys({ prefix: 'item/' }).length === 499, { message: 'the late joiner to catch up' })
  assert.equal(late.keys({ prefix: 'item/' }), a.keys({ prefix: 'item/' }))
  assert.is(text((await late.get('item/7'))?.value), 'value 7')
  assert.is(await late.get('item/0'), undefined)
  assert.ok(late.stats().tombstones >= 1, 'the delete marker came along')
})

test('a restarted (empty) node refills all live entries from its peers', async () => {
  const [a, b] = await cluster(2)
  for (let i = 0; i < 200; i++) await a.put(`r/${i}`, `v${i}`, { ttl: 60_000 })
  await waitFor(() => b.keys({ prefix: 'r/' }).length === 200)
  await b.stop()
  assert.is(b.started, false)
  const b2 = await startNode({ bootstrap: [a.multiaddrs[0]] })
  started.push(b2)
  await waitFor(() => b2.keys({ prefix: 'r/' }).length === 200, { message: 'the restarted node to refill' })
  assert.is(text((await b2.get('r/199'))?.value), 'v199')
})

test('a partition heals: writes on both sides end up everywhere', async () => {
  const [a, b, c] = await cluster(3)
  const heal = await partition(a, c)
  await a.put('side/a', 'from a', { ttl: 60_000 })
  await c.put('side/c', 'from c', { ttl: 60_000 })
  await waitFor(async () => (await b.get('side/a')) !== undefined)
  assert.is(await c.get('side/a'), undefined, 'c is cut off')
  heal()
  await waitFor(async () => (await c.get('side/a')) !== undefined && (await a.get('side/c')) !== undefined && (await b.get('side/c')) !== undefined, { message: 'the partition to heal' })
})

test('a delete is not undone by a node that missed it', async () => {
  const [a, b, c] = await cluster(3)
  await a.put('zombie', 'v1', { ttl: 60_000 })
  await waitFor(async () => (await c.get('zombie')) !== undefined)
  const heal = await partition(a, c)
  assert.is(await a.delete('zombie'), true)
  await waitFor(async () => (await b.get('zombie')) === undefined)
  assert.is(text((await c.get('zombie'))?.value), 'v1', 'c missed the delete')
  heal()
  await waitFor(async () => (await c.get('zombie')) === undefined, { message: 'c to learn of the delete' })
  const rounds = a.stats().counters.syncRounds
  await waitFor(() => a.stats().counters.syncRounds >= rounds + 2, { message: 'more sync rounds' })
  for (const n of [a, b, c]) assert.is(await n.get('zombie'), undefined)
})

test('an overwrite with a shorter TTL is not undone by a node that missed it, after it expires', async () => {
  const [a, b, c] = await cluster(3)
  await a.put('phoenix', 'old, long-lived', { ttl: 60_000 })
  await waitFor(async () => (await c.get('phoenix')) !== undefined)
  const heal = await partition(a, c)
  await a.put('phoenix', 'new, short-lived', { ttl: 300 })
  await waitFor(async () => text((await b.get('phoenix'))?.value) === 'new, short-lived')
  await waitFor(async () => (await a.get('phoenix')) === undefined && (await b.get('phoenix')) === undefined, { message: 'the overwrite to expire' })
  assert.ok(a.stats().tombstones >= 1, 'a keeps a marker')
  assert.is(text((await c.get('phoenix'))?.value), 'old, long-lived', 'c missed the overwrite')
  heal()
  await waitFor(async () => (await c.get('phoenix')) === undefined, { message: 'c to drop the superseded version' })
  const rounds = a.stats().counters.syncRounds
  await waitFor(() => a.stats().counters.syncRounds >= rounds + 2, { message: 'more sync rounds' })
  for (const n of [a, b, c]) assert.is(await n.get('phoenix'), undefined)
})

test('a record beyond this node\'s limits is dropped alone: the rest of the batch and of the sync round still arrive', async () => {
  const big = await startNode({ maxValueBytes: 2 * 1024 * 1024, syncInterval: 0 })
  started.push(big)
  await big.put('sync/huge', new Uint8Array(1536 * 1024), { ttl: 60_000 })
  await big.put('sync/small', 'fits', { ttl: 60_000 })
  const small = await startNode({ bootstrap: [big.multiaddrs[0]], syncInterval: 0 })
  started.push(small)
  await waitFor(async () => (await small.get('sync/small')) !== undefined, { message: 'the small entry to sync' })
  await waitFor(() => small.peers.includes(big.peerId))
  // Gossip: both in one batch (same event-loop turn), after the first-write fast path.
  await big.put('gossip/first', 'x', { ttl: 60_000 })
  await Promise.all([big.put('gossip/huge', new Uint8Array(1536 * 1024), { ttl: 60_000 }), big.put('gossip/small', 'fits too', { ttl: 60_000 })])
  await waitFor(async () => (await small.get('gossip/small')) !== undefined, { message: 'the small gossiped entry' })
  await big.syncWith(small.peerId)
  assert.is(await small.get('sync/huge'), undefined)
  assert.is(await small.get('gossip/huge'), undefined)
  assert.is(small.stats().counters.syncFailures, 0)
  assert.is(big.stats().counters.syncFailures, 0)
  assert.ok(small.stats().counters.rejected >= 2, `rejected ${small.stats().counters.rejected}`)
})

test('a record one node refuses is not sent again every round: its bucket is left out, and tried again less and less often', async () => {
  // A key over the other node's maxKeyBytes: refused there, with nothing kept in its place.
  const big = await startNode({ maxValueBytes: 2 * 1024 * 1024, maxKeyBytes: 1024, syncInterval: 0 })
  started.push(big)
  const value = 1536 * 1024
  const refused = `refused/${'k'.repeat(600)}`
  await big.put(refused, new Uint8Array(value), { ttl: 60_000 })
  await big.put('taken', 'fits', { ttl: 60_000 })
  const small = await startNode({ bootstrap: [big.multiaddrs[0]], syncInterval: 0 })
  started.push(small)
  await waitFor(() => small.getSync('taken') !== undefined, { message: 'the join round' })
  const sent = (): number => big.stats().counters.syncBytesSent + small.stats().counters.syncBytesSent
  const skipped = (): number => big.stats().counters.syncBucketsSkipped + small.stats().counters.syncBucketsSkipped
  const rounds = 12
  let before = sent()
  for (let i = 0; i < rounds; i++) assert.ok(await small.syncWith(big.peerId), `round ${i}`)
  let bytes = sent() - before
  // Sending the bucket every round would be 12 x 1.5 MiB; the responder tries it after 1, 2, 4, ... rounds left out.
  assert.ok(bytes < 5 * value, `${bytes} bytes sent in ${rounds} rounds`)
  assert.ok(skipped() >= rounds - 5, `${skipped()} buckets skipped`)
  // Either side may start a round; each, as responder, keeps its own count.
  before = sent()
  for (let i = 0; i < rounds; i++) {
    assert.ok(await (i % 2 === 0 ? big.syncWith(small.peerId) : small.syncWith(big.peerId)), `alternating round ${i}`)
  }
  bytes = sent() - before
  assert.ok(bytes < 6 * value, `${bytes} bytes sent in ${rounds} rounds started by either`)
  assert.is(small.stats().entries, 1, 'only what fits')
  assert.is(big.stats().counters.syncFailures + small.stats().counters.syncFailures, 0)
  // A new write into the stuck bucket makes a new pair of digests: the next round carries it.
  const bucketOfRefused = bucketOf(hashKeyUtf8(refused, { bytes: 0 }))
  let key = ''
  for (let i = 0; key === ''; i++) if (bucketOf(hashKeyUtf8(`same-bucket/${i}`, { bytes: 0 })) === bucketOfRefused) key = `same-bucket/${i}`
  await big.blockPeer(small.peerId) // no gossip: only sync can carry it
  await big.put(key, 'carried by sync', { ttl: 60_000 })
  big.unblockPeer(small.peerId)
  // The round on reconnecting, or one asked for (a round can fail while the two redial each other).
  await waitFor(async () => small.getSync(key) !== undefined || (await small.syncWith(big.peerId) && small.getSync(key) !== undefined),
    { message: 'a round to carry the write' })
  assert.is(text(small.getSync(key)?.value), 'carried by sync')
  assert.is(small.stats().entries, 2)
})

test('what a node noted of a peer\'s stuck buckets goes when the peer disconnects: back with other limits, it is sent the record at once', async () => {
  // The strict node has the smaller id: it starts every round with the holder, the one on joining too.
  const [x, y] = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')])
  const [privateKey, holderKey] = peerIdFromPrivateKey(x).toString() < peerIdFromPrivateKey(y).toString() ? [x, y] : [y, x]
  const holder = await startNode({ privateKey: holderKey, syncInterval: 0 })
  started.push(holder)
  const key = `long/${'k'.repeat(100)}`
  await holder.put(key, 'a long key', { ttl: 60_000 })
  const strict = await startNode({ privateKey, maxKeyBytes: 64, syncInterval: 0, bootstrap: [holder.multiaddrs[0]] })
  started.push(strict)
  await waitForPeers([holder, strict])
  // Tries after 1, 2 and 4 rounds left out, then at the start of leaving it out 8 times.
  for (let i = 0; i < 11; i++) assert.ok(await strict.syncWith(holder.peerId), `round ${i}`)
  assert.ok(holder.stats().counters.syncBucketsSkipped >= 1, 'the holder left the bucket out')
  const notes = (n: RepramNode): number => (n as unknown as { running: { sync: { stuck: { size: number } } } }).running.sync.stuck.size
  assert.is(notes(strict), 0, 'an initiator notes nothing (its round ends before the responder has applied its records)')
  const strictId = strict.peerId
  await strict.stop()
  await waitFor(() => !holder.peers.includes(strictId), { message: 'the holder to see it go' })
  assert.is(notes(holder), 0, 'forgotten')
  // The same peer id, with room for the key now.
  const relaxed = await startNode({ privateKey, syncInterval: 0, bootstrap: [holder.multiaddrs[0]] })
  started.push(relaxed)
  await waitForPeers([holder, relaxed])
  assert.ok(await relaxed.syncWith(holder.peerId), 'a round (the one on joining, or the next)')
  assert.is(text(relaxed.getSync(key)?.value), 'a long key')
})

test('syncWith takes any text form of a peer id, and refuses what is not one', async () => {
  const [a, b] = await cluster(2, 0)
  assert.ok(await a.syncWith(peerIdFromString(b.peerId).toCID().toString()), 'the CID form')
  for (const bad of ['nonsense', '', 123, null]) {
    await a.syncWith(bad as string).then(() => { assert.unreachable(`accepted ${String(bad)}`) }, (err: Error) => { assert.is(err.name, 'InvalidArgumentError', String(bad)) })
  }
})

test('a joining node is sent what it lacks, and nothing travels back', async () => {
  for (let run = 0; run < 2; run++) { // the initiator is the smaller peer id: two runs cover both roles more often than not
    const a = await startNode({ syncInterval: 0 })
    started.push(a)
    for (let i = 0; i < 1000; i++) await a.put(`echo/${i}`, 'x'.repeat(100), { ttl: 60_000 })
    const b = await startNode({ bootstrap: [a.multiaddrs[0]], syncInterval: 0 })
    started.push(b)
    await waitFor(() => b.keys({ prefix: 'echo/' }).length === 1000, { message: 'the joiner to catch up' })
    await waitFor(() => a.stats().counters.syncRounds >= 1 && b.stats().counters.syncRounds >= 1)
    assert.is(a.stats().counters.syncEntriesReceived, 0, 'the established node got nothing back')
    // At most two summaries of 8 KiB: the catch-up round's, and the round after the joiner's subscription showed.
    assert.ok(a.stats().counters.syncBytesReceived < 20 * 1024, `bytes back: ${a.stats().counters.syncBytesReceived}`)
  }
})

test('a joiner catches up on large values too (frames of 3 MiB back to back)', async () => {
  const big = { maxValueBytes: 3 * 1024 * 1024, syncInterval: 0 }
  const a = await startNode(big)
  started.push(a)
  for (let i = 0; i < 4; i++) await a.put(`large/${i}`, new Uint8Array(3 * 1024 * 1024).fill(i), { ttl: 60_000 })
  for (let i = 0; i < 200; i++) await a.put(`large/small/${i}`, 'x', { ttl: 60_000 })
  const b = await startNode({ ...big, bootstrap: [a.multiaddrs[0]] })
  started.push(b)
  await waitFor(() => b.keys({ prefix: 'large/' }).length === 204 || b.stats().counters.syncFailures > 0 || a.stats().counters.syncFailures > 0,
    { timeout: 30_000, message: 'the joiner to catch up' })
  assert.is(a.stats().counters.syncFailures + b.stats().counters.syncFailures, 0, 'no failed round')
  assert.is(b.keys({ prefix: 'large/' }).length, 204)
  assert.ok((await b.get('large/3'))!.value.every(x => x === 3), 'a large value arrived whole')
})

/** Two identities, the one with the smaller peer id first: that side starts the catch-up round when they connect. */
async function orderedKeys (): Promise<[Awaited<ReturnType<typeof generateKeyPair>>, Awaited<ReturnType<typeof generateKeyPair>>]> {
  const [x, y] = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')])
  return peerIdFromPrivateKey(x).toString() < peerIdFromPrivateKey(y).toString() ? [x, y] : [y, x]
}

test('a writer cut off from an older version learns, in a round the other side starts, how long to guard against it', async () => {
  // c keeps v1 (long-lived); b overwrites it with v2 (short-lived) without ever having seen v1;
  // a saw both, so its copy of v2 guards until v1's expiry. After a's round with b, b must guard
  // as long: when v2 expires there, b keeps a marker, and v1 cannot come back through b.
  const [low, high] = await orderedKeys()
  const opts = { syncInterval: 0, minTtl: 50 }
  const a = await startNode({ ...opts, privateKey: low })
  const b = await startNode({ ...opts, privateKey: high })
  const c = await startNode({ ...opts, bootstrap: [a.multiaddrs[0]] })
  started.push(a, b, c)
  await waitFor(() => a.peers.includes(c.peerId), { message: 'a and c connected' })
  await a.put('guarded', 'v1, long-lived', { ttl: 60_000 })
  await waitFor(() => text(c.getSync('guarded')?.value) === 'v1, long-lived', { message: 'c to get v1' })
  await partition(a, c) // never healed
  await b.put('guarded', 'v2, short-lived', { ttl: 1500 })
  assert.ok(await a.dial(b.multiaddrs[0]), 'a dials b')
  assert.ok(await a.syncWith(b.peerId), 'a round started by a (after the one under way)')
  assert.is(text(a.getSync('guarded')?.value), 'v2, short-lived')

  await waitFor(() => b.stats().entries === 0, { timeout: 10_000, message: 'v2 to expire on b' })
  assert.is(b.stats().tombstones, 1, 'b keeps a marker until v1 could have expired')
  assert.ok(await c.dial(b.multiaddrs[0]), 'c dials b')
  assert.ok(await c.syncWith(b.peerId), 'a round between b and c')
  assert.is(b.getSync('guarded'), undefined, 'v1 did not come back through b')
  assert.is(c.getSync('guarded'), undefined, 'b\'s marker superseded v1 on c')
})

test('replicas of one version that guard for different times are evened out by the next round, before the shorter guard lets the key go', async () => {
  // b writes v2 (short-lived) and gossip brings it to a. Later a hears from c of an older,
  // longer-lived v1 that v2 superseded: a now guards until v1's expiry; b never knew v1. Their
  // digests differ by that guard alone, so a round between them evens it out, and when v2
  // expires on b, b keeps a marker: v1, still alive on d, cannot come back through b.
  const opts = { syncInterval: 0, minTtl: 50 }
  const a = await startNode(opts)
  const b = await startNode({ ...opts, bootstrap: [a.multiaddrs[0]] })
  const c = await startNode(opts)
  const d = await startNode({ ...opts, bootstrap: [c.multiaddrs[0]] })
  started.push(a, b, c, d)
  await waitForPeers([a, b])
  await waitForGossip(a, [a, b])
  await waitFor(() => c.peers.includes(d.peerId), { message: 'c and d connected' })
  await c.put('kept', 'v1, long-lived', { ttl: 60_000 })
  await waitFor(() => text(d.getSync('kept')?.value) === 'v1, long-lived', { message: 'd to get v1' })
  await partition(c, d) // never healed

  await b.put('kept', 'v2, short-lived', { ttl: 5000 }) // long enough for the rounds below
  await waitFor(() => text(a.getSync('kept')?.value) === 'v2, short-lived', { message: 'gossip to bring v2 to a' })
  assert.ok(await c.dial(a.multiaddrs[0]), 'c dials a')
  await waitFor(() => a.peers.includes(c.peerId), { message: 'a and c connected' })
  assert.ok(await a.syncWith(c.peerId), 'a round between a and c: a hears of v1')
  assert.is(text(a.getSync('kept')?.value), 'v2, short-lived')
  const received = b.stats().counters.syncEntriesReceived
  assert.ok(await a.syncWith(b.peerId), 'a round between a and b')
  // (The responder applies the last frames just after the initiator is done.)
  await waitFor(() => b.stats().counters.syncEntriesReceived > received, { message: 'the round to bring b the record with a\'s guard' })

  const expired = b.stats().counters.expired
  const markers = b.stats().tombstones
  await waitFor(() => b.stats().counters.expired > expired, { timeout: 15_000, message: 'v2 to expire on b' })
  assert.is(b.stats().tombstones, markers + 1, 'b keeps a marker until v1 could have expired')
  assert.ok(await d.dial(b.multiaddrs[0]), 'd dials b')
  await waitFor(() => d.peers.includes(b.peerId), { message: 'b and d connected' })
  assert.ok(await d.syncWith(b.peerId), 'a round between b and d')
  assert.is(b.getSync('kept'), undefined, 'v1 did not come back through b')
  assert.is(d.getSync('kept'), undefined, 'b\'s marker superseded v1 on d')
})

test('syncWith covers every write made before the call: it shares a round that has not taken its summary yet, else runs one more after it', async () => {
  // The round under way may have sent its summary before the caller's latest writes
  // (a write made while a peer connects goes to nobody by gossip): joining it would miss them.
  const [a, b] = await cluster(2, 0)
  assert.ok(await a.syncWith(b.peerId)) // nothing under way any more
  // Note when a's rounds take their summaries, and hold the first summary's send until released.
  type Initiate = (peer: unknown, round: unknown, summarized: () => void) => Promise<void>
  type Write = (lp: unknown, data: Uint8Array, round: unknown) => Promise<void>
  const sync = (a as unknown as { running: { sync: { initiate: Initiate, write: Write } } }).running.sync
  const summaries: number[] = []
  const initiate = sync.initiate.bind(sync)
  sync.initiate = async (peer, round, summarized) => await initiate(peer, round, () => { summaries.push(performance.now()); summarized() })
  let release = (): void => {}
  const held = new Promise<void>(resolve => { release = resolve })
  const write = sync.write.bind(sync)
  sync.write = async (lp, data, round) => { if (summaries.length === 1) await held; await write(lp, data, round) }

  const first = a.syncWith(b.peerId)
  const sameRound = a.syncWith(b.peerId) // asked before the first round took its summary: shares it
  await waitFor(() => summaries.length === 1, { message: 'the first round to take its summary' })
  const asked = performance.now()
  const later = [a.syncWith(b.peerId), a.syncWith(b.peerId)] // after: one more round, shared
  release()
  assert.equal(await Promise.all([first, sameRound, ...later]), [true, true, true, true])
  assert.is(summaries.length, 2, 'two rounds for four calls')
  assert.ok(summaries[1] > asked, 'the second round took its summary after the calls that needed it')
  const stranger = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  assert.is(await a.syncWith(stranger), false, 'a peer not connected: no round')
})

test('nodes in sync exchange only a small summary', async () => {
  const [a, b] = await cluster(2, 0) // no background rounds: measure one round alone
  for (let i = 0; i < 2000; i++) await a.put(`bulk/${i}`, 'x'.repeat(100), { ttl: 60_000 })
  await waitFor(() => b.keys({ prefix: 'bulk/' }).length === 2000)
  const before = a.stats().counters
  await a.syncWith(b.peerId)
  const after = a.stats().counters
  const moved = (after.syncBytesSent - before.syncBytesSent) + (after.syncBytesReceived - before.syncBytesReceived)
  assert.ok(after.syncRounds > before.syncRounds, 'a round ran')
  assert.ok(moved < 16 * 1024, `moved ${moved} bytes`)
})

test.run()
