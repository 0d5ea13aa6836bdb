/**
 * Sync rounds against a peer that is slow, stalls or sends what no node
 * accepts, with a real node on loopback and a peer that speaks the sync
 * protocol by hand over a real libp2p stream (from another node's libp2p):
 * a round has no overall deadline, only an idle timeout, and a node that
 * stops mid-round does not count that as a failed round.
 */
import { randomInt } from 'node:crypto'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import { decodeMessage, encodeEnd, encodeReceived, encodeRecords, encodeSummary, Kind } from '../../src/replication/codec.ts'
import { START_WINDOW_BYTES } from '../../src/replication/send-window.ts'
import { SYNC_BUCKETS } from '../../src/store/digest.ts'
import { protocolIds } from '../../src/network.ts'
import { startNode, stopAll, text } from '../helpers/nodes.ts'
import { waitFor } from '../helpers/wait.ts'
import type { RepramNode } from '../../src/index.ts'
import type { Libp2p, Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'

const test = suite('sync: slow and stalled peers')
const started: RepramNode[] = []
test.after(async () => { await stopAll(started) })

const IDLE_MS = 400

/** A sync stream from `from`'s libp2p to `to`, as a peer speaking the protocol by hand would open it. */
async function openSync (from: RepramNode, to: RepramNode): Promise<{ stream: Stream, lp: LengthPrefixedStream }> {
  const libp2p = (from as unknown as { running: { libp2p: Libp2p } }).running.libp2p
  const stream = await libp2p.dialProtocol(peerIdFromString(to.peerId), protocolIds(to.config.network).sync)
  return { stream, lp: lpStream(stream, { maxDataLength: 4 * 1024 * 1024 }) }
}

/** Reads frames until END; returns how many records came. */
async function readUntilEnd (lp: LengthPrefixedStream): Promise<number> {
  let records = 0
  for (;;) {
    const msg = decodeMessage((await lp.read()).subarray(), { maxKeyBytes: 512, maxValueBytes: 1024 * 1024 })
    if (msg.kind === Kind.END) return records
    if (msg.kind === Kind.RECORDS) records += msg.records.length
  }
}

/**
 * The digests of a peer whose every bucket differs from the node's: it is sent all the node holds,
 * as an empty peer is. (Not the empty peer's all-zero digests: those are what the peer's summary
 * showed in the round on joining, and a node that exchanged buckets at those very digests takes a
 * later round at them for an exchange that changed nothing, and leaves them out: see
 * stuck-buckets.ts. A real peer cannot lose what it holds without reconnecting.)
 */
function matchingNothing (): Uint32Array {
  const digests = new Uint32Array(SYNC_BUCKETS * 2)
  for (let i = 0; i < digests.length; i++) digests[i] = randomInt(1, 2 ** 32)
  return digests
}

/** Whether `node` has a round it started still under way or queued. */
function syncing (node: RepramNode): boolean {
  return (node as unknown as { running: { sync: { inFlight: Map<string, unknown> } } }).running.sync.inFlight.size > 0
}

async function pair (): Promise<[RepramNode, RepramNode]> {
  const node = await startNode({ syncInterval: 0, syncIdleTimeout: IDLE_MS })
  const peer = await startNode({ syncInterval: 0, bootstrap: [node.multiaddrs[0]] })
  started.push(node, peer)
  await waitFor(() => node.peers.includes(peer.peerId) && peer.peers.includes(node.peerId), { message: 'the two nodes to join' })
  // The rounds on connecting and on joining (one or two: see RepramNode's join), over on both
  // sides before the test's own rounds, which count rounds from here.
  await waitFor(() => {
    const rounds = node.stats().counters.syncRounds
    return rounds >= 1 && rounds === peer.stats().counters.syncRounds && !syncing(node) && !syncing(peer)
  }, { message: 'the rounds on joining' })
  return [node, peer]
}

test('a round that takes longer than the idle timeout completes while frames keep moving', async () => {
  const [node, peer] = await pair()
  const rounds = node.stats().counters.syncRounds
  await node.put('there/already', 'x', { ttl: 60_000 })
  const { stream, lp } = await openSync(peer, node)
  const t0 = performance.now()
  await lp.write(encodeSummary(matchingNothing())) // as if it held nothing
  const want = decodeMessage((await lp.read()).subarray(), { maxKeyBytes: 512, maxValueBytes: 1024 })
  assert.is(want.kind, Kind.WANT)
  assert.ok(await readUntilEnd(lp) >= 1, 'the node sent what it holds')
  // Six frames at a slow link's pace: the round lasts well past the idle timeout, no gap reaches it.
  const now = Date.now()
  for (let i = 0; i < 6; i++) {
    await new Promise(resolve => setTimeout(resolve, IDLE_MS / 2))
    await lp.write(encodeRecords([{ key: `slow/${i}`, value: new TextEncoder().encode(`frame ${i}`), expiresAt: now + 60_000, wall: now, counter: i, origin: peer.peerId, guardUntil: 0 }]))
  }
  await lp.write(encodeEnd())
  await stream.close()
  await waitFor(() => node.keys({ prefix: 'slow/' }).length === 6, { message: 'the slow frames to be applied' })
  assert.ok(performance.now() - t0 > 2 * IDLE_MS, 'the round outlasted the idle timeout')
  assert.is(text(node.getSync('slow/5')?.value), 'frame 5')
  await waitFor(() => node.stats().counters.syncRounds === rounds + 1, { message: 'the round to count as done' })
  assert.is(node.stats().counters.syncFailures, 0)
})

/** `frame` as lpStream puts it on the wire: an unsigned varint length, then the bytes. */
function lengthPrefixed (frame: Uint8Array): Uint8Array {
  const prefix: number[] = []
  let n = frame.length
  while (n >= 0x80) { prefix.push((n & 0x7f) | 0x80); n >>>= 7 }
  prefix.push(n)
  const out = new Uint8Array(prefix.length + frame.length)
  out.set(prefix)
  out.set(frame, prefix.length)
  return out
}

test('one frame that trickles in for longer than the idle timeout is received whole', async () => {
  const [node, peer] = await pair()
  const { stream, lp } = await openSync(peer, node)
  await lp.write(encodeSummary(matchingNothing()))
  await lp.read() // WANT
  await readUntilEnd(lp)
  const now = Date.now()
  const value = new Uint8Array(600 * 1024).fill(7)
  const bytes = lengthPrefixed(encodeRecords([{ key: 'trickle/0', value, expiresAt: now + 60_000, wall: now, counter: 0, origin: peer.peerId, guardUntil: 0 }]))
  // 12 pieces, a third of the idle timeout apart: the one frame takes four times the idle timeout.
  const t0 = performance.now()
  const piece = Math.ceil(bytes.length / 12)
  for (let at = 0; at < bytes.length; at += piece) {
    if (at > 0) await new Promise(resolve => setTimeout(resolve, IDLE_MS / 3))
    stream.send(bytes.subarray(at, at + piece))
  }
  await lp.write(encodeEnd())
  await stream.close()
  await waitFor(() => node.getSync('trickle/0') !== undefined, { message: 'the trickled frame to be applied' })
  assert.ok(performance.now() - t0 > 2 * IDLE_MS, 'the frame took longer than the idle timeout')
  assert.equal(node.getSync('trickle/0')?.value, value)
  assert.is(node.stats().counters.syncFailures, 0)
})

test('a peer that stops sending mid-round is given up after the idle timeout, and the stream is reset', async () => {
  const [node, peer] = await pair()
  const { lp } = await openSync(peer, node)
  await lp.write(encodeSummary(matchingNothing()))
  await lp.read() // WANT
  await readUntilEnd(lp)
  // ...and then nothing: no records, no END.
  const failures = node.stats().counters.syncFailures
  await waitFor(() => node.stats().counters.syncFailures === failures + 1, { timeout: 10 * IDLE_MS, message: 'the node to give up on the round' })
  let ended = false
  await lp.read().catch(() => { ended = true })
  assert.ok(ended, 'the stream was reset')
})

test('a sender keeps at most its (starting) window of records out until the peer reports them received, then goes on', async () => {
  const [node, peer] = await pair()
  const rounds = node.stats().counters.syncRounds
  const value = new Uint8Array(1024).fill(1)
  for (let i = 0; i < 2000; i++) await node.put(`window/${i}`, value, { ttl: 60_000 }) // about 2.2 MB to send
  const limits = { maxKeyBytes: 512, maxValueBytes: 1024 * 1024 }

  // A peer that never reports: the node stops at the window (plus the frame it was writing),
  // and gives the round up after the idle timeout.
  const silent = await openSync(peer, node)
  await silent.lp.write(encodeSummary(matchingNothing()))
  await silent.lp.read() // WANT
  const failures = node.stats().counters.syncFailures
  let unreported = 0
  try {
    for (;;) {
      const data = (await silent.lp.read()).subarray()
      assert.is(decodeMessage(data, limits).kind, Kind.RECORDS, 'no END before the window is reported')
      unreported += data.length
    }
  } catch {}
  await waitFor(() => node.stats().counters.syncFailures === failures + 1, { message: 'the round to be given up' })
  assert.ok(unreported <= START_WINDOW_BYTES && unreported > START_WINDOW_BYTES - 140 * 1024, `${unreported} bytes sent unreported (frames that fit the starting window)`)

  // A peer that reports each frame once it has it gets everything.
  const { stream, lp } = await openSync(peer, node)
  await lp.write(encodeSummary(matchingNothing()))
  await lp.read() // WANT
  let taken = 0
  let records = 0
  for (;;) {
    const data = (await lp.read()).subarray()
    const msg = decodeMessage(data, limits)
    if (msg.kind === Kind.END) break
    assert.is(msg.kind, Kind.RECORDS)
    if (msg.kind === Kind.RECORDS) records += msg.records.length
    taken += data.length
    await lp.write(encodeReceived(taken))
  }
  assert.is(records, 2000)
  assert.ok(taken > 4 * START_WINDOW_BYTES, `the round moved ${taken} bytes, several windows`)
  await lp.write(encodeEnd())
  await stream.close()
  await waitFor(() => node.stats().counters.syncRounds === rounds + 1, { message: 'the round to count as done' })
  assert.is(node.stats().counters.syncFailures, failures + 1)
})

test('records and notices a round brings that no node accepts are dropped and counted, and the round completes', async () => {
  const [node, peer] = await pair()
  const rounds = node.stats().counters.syncRounds
  const rejected = node.stats().counters.rejected
  const { stream, lp } = await openSync(peer, node)
  await lp.write(encodeSummary(matchingNothing()))
  await lp.read() // WANT
  await readUntilEnd(lp)
  const now = Date.now()
  const base = { value: null, expiresAt: now + 60_000, wall: now, counter: 0, origin: peer.peerId, guardUntil: now + 60_000 }
  await lp.write(encodeRecords([
    { ...base, key: 'foul\u0000notice', notice: true },
    { ...base, key: 'future/notice', wall: now + 3_600_000, notice: true },
    { ...base, key: 'foul/type', value: new TextEncoder().encode('x'), contentType: 'text/plain\r\nX-Injected: 1', guardUntil: 0 },
    { ...base, key: 'fine', value: new TextEncoder().encode('x'), guardUntil: 0 }
  ]))
  await lp.write(encodeEnd())
  await stream.close()
  await waitFor(() => node.stats().counters.syncRounds === rounds + 1, { message: 'the round to count as done' })
  assert.is(node.stats().counters.rejected - rejected, 3)
  assert.is(text(node.getSync('fine')?.value), 'x')
  assert.is(node.getSync('foul/type'), undefined)
  assert.is(node.stats().counters.syncFailures, 0)
})

test('a peer that keeps a round open with frames that carry nothing (empty RECORDS, extra RECEIVED reports) fails the round', async () => {
  const [node, peer] = await pair()
  await node.put('there/already', 'x', { ttl: 60_000 })
  const cases: Array<[string, (i: number) => Uint8Array]> = [
    ['empty RECORDS frames', () => encodeRecords([])],
    // The one frame the node sent is reported once; the rest report on nothing.
    ['more RECEIVED reports than frames sent', (i) => encodeReceived(i + 1)]
  ]
  for (const [what, frame] of cases) {
    const failures = node.stats().counters.syncFailures
    const { lp } = await openSync(peer, node)
    await lp.write(encodeSummary(matchingNothing()))
    await lp.read() // WANT
    assert.is(await readUntilEnd(lp), 1, 'one frame sent')
    // Four frames per idle timeout, for three idle timeouts: the round is never idle meanwhile.
    let failedWhileSending = false
    for (let i = 0; i < 12 && !failedWhileSending; i++) {
      await lp.write(frame(i)).catch(() => {})
      await new Promise(resolve => setTimeout(resolve, IDLE_MS / 4))
      failedWhileSending = node.stats().counters.syncFailures === failures + 1
    }
    assert.ok(failedWhileSending, `the round failed on ${what}, not for being idle`)
  }
})

test('a node that stops in the middle of a round it responds to does not count a failed round', async () => {
  const [node, peer] = await pair()
  const { lp } = await openSync(peer, node)
  await lp.write(encodeSummary(matchingNothing()))
  await lp.read() // WANT: the node is now waiting for our records
  const failures = node.stats().counters.syncFailures
  await node.stop()
  assert.is(node.stats().counters.syncFailures, failures)
})

test.run()
