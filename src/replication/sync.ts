/**
 * The sync protocol: catches up late joiners and heals partitions.
 *
 * One round over one stream (`/repram/<network>/sync/4.0.0`), frames
 * length-prefixed (lpStream):
 *
 *   initiator -> responder  SUMMARY  per-bucket digests of what it holds
 *   responder -> initiator  WANT     buckets whose digests differ, with the
 *                                    responder's digests of them
 *   responder -> initiator  RECORDS* the responder's records in those buckets
 *   responder -> initiator  END
 *   initiator -> responder  RECORDS* the initiator's records in those buckets,
 *                                    but for buckets whose digest now equals
 *                                    the responder's (it holds just what the
 *                                    responder does there: a joining node's
 *                                    case), and less those it just received
 *                                    (same version)
 *   initiator -> responder  END
 *
 * and, going the other way, a RECEIVED after each RECORDS frame has been
 * applied: the bytes of RECORDS frames taken in so far. A sender keeps at
 * most a window of RECORDS frames (plus the frame it is writing) not yet
 * reported received, sized from the rate and delay of those reports
 * (send-window.ts).
 * Without that, a catch-up wrote as fast as the muxer took it, megabytes
 * queued on the connection, and over a slow link (2 Mbit/s) everything
 * behind them waited for seconds: libp2p's pings timed out and it dropped
 * the whole connection, gossip included, and the responder, done sending
 * long before its last frames arrived, gave up waiting for the
 * initiator's records.
 *
 * Both sides apply what they receive under last-writer-wins, so both end
 * with the union of live entries (and markers). Two nodes already in sync
 * exchange an 8 KiB summary and three tiny frames. A bucket whose last
 * exchange with the peer left both digests as they were (a record one
 * side refuses and keeps nothing of) is left out of WANT for a growing
 * number of rounds, until either side's digest of it changes
 * (stuck-buckets.ts). Records are validated like gossip and dropped one by
 * one (one refused only for this node's value limits still supersedes
 * older versions: `MemoryStore.refuse`); a malformed frame ends the round
 * (the stream is reset). A round has no deadline as a whole, so a large
 * catch-up over a slow link finishes; it is abandoned when for
 * `idleTimeout` ms (the node's `syncIdleTimeout`) no frame was written or
 * read and no chunk of one arrived: a frame that trickles in over a slow
 * link keeps its round alive, and so do the peer's RECEIVED reports while
 * it takes in what was sent.
 *
 * Rounds run when a peer joins (the side with the smaller peer id starts)
 * and every `syncInterval` with one random peer (anti-entropy). One round
 * runs per peer at a time; asking for another while one is under way
 * queues one more after it (its summary may predate the caller's writes).
 */
import { setImmediate as nextTurn } from 'node:timers/promises'
import { lpStream } from '@libp2p/utils'
import { decodeMessage, encodeEnd, encodeReceived, encodeRecords, encodeSummary, encodeWant, recordSize, Kind, MAX_RECORDS_PER_MESSAGE } from './codec.ts'
import { checkRecord, overOwnLimits } from './validate.ts'
import { RoundVersions } from './round-versions.ts'
import { SendWindow } from './send-window.ts'
import { StuckBuckets } from './stuck-buckets.ts'
import { InvalidMessageError } from '../errors.ts'
import { SYNC_BUCKETS } from '../store/digest.ts'
import type { Message, WireRecord } from './codec.ts'
import type { ReplicationContext } from './counters.ts'
import type { MemoryStore, StoreRecord } from '../store/memory-store.ts'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'

/** Target size of one RECORDS frame while syncing (half a second at 2 Mbit/s). */
const FRAME_BYTES = 128 * 1024
/** Largest frame accepted: one record with a maximal value fits. */
const MAX_FRAME_BYTES = 4 * 1024 * 1024
/** Store slots looked at between two turns of the event loop while picking the records to send. */
const SCAN_SLICE = 16_384
/** Most keys an initiator remembers per round as already held by the peer (see `RoundVersions`). */
const MAX_REMEMBERED = 1_000_000
/** Most memory those notes take, bytes (about 350,000 keys of 16 bytes). */
const MAX_REMEMBERED_BYTES = 64 * 1024 * 1024
/**
 * Most bytes received and not yet read on a sync stream. Frames arrive as
 * fast as the network carries them, and while one is being applied the
 * next ones queue up: with values of a few MiB, the 4 MiB default of the
 * byte stream overflowed after two frames and failed the round.
 */
const MAX_BUFFERED_BYTES = 4 * MAX_FRAME_BYTES

export interface SyncProtocolInit extends ReplicationContext {
  libp2p: Libp2p
  protocol: string
  store: MemoryStore
  /** A round in which, for this many ms, no frame was written or read and no chunk of one arrived is abandoned. */
  idleTimeout: number
}

/** Per peer: the round under way, whether it has taken its summary yet, and the round queued after it. */
interface PeerRounds {
  current: Promise<boolean>
  summarized: boolean
  next?: Promise<boolean>
}

/**
 * A round's signal: aborted when the node stops, or when no data moved
 * either way for `idleMs`: no frame was read or written (`touch`), and no
 * chunk of a frame arrived (the stream's `message` events: a frame larger
 * than the link carries in `idleMs` still counts while it trickles in).
 */
class RoundSignal {
  readonly signal: AbortSignal
  private readonly shutdown: AbortSignal
  private readonly idle = new AbortController()
  private readonly timer: ReturnType<typeof setTimeout>
  private stream?: Stream

  constructor (shutdown: AbortSignal | undefined, idleMs: number) {
    this.shutdown = shutdown ?? AbortSignal.abort()
    this.timer = setTimeout(() => {
      const err = new Error(`no data moved for ${idleMs} ms`)
      err.name = 'TimeoutError'
      this.idle.abort(err)
    }, idleMs)
    this.timer.unref?.()
    this.signal = AbortSignal.any([this.shutdown, this.idle.signal])
  }

  /** Whether the round ends because this node stops (not a failure). */
  get stopping (): boolean { return this.shutdown.aborted }

  /** Counts `stream`'s traffic as activity. */
  watch (stream: Stream): void {
    this.stream = stream
    stream.addEventListener('message', this.touch)
  }

  readonly touch = (): void => { this.timer.refresh() }

  done (): void {
    clearTimeout(this.timer)
    this.stream?.removeEventListener('message', this.touch)
  }
}

export class SyncProtocol {
  private readonly init: SyncProtocolInit
  private readonly inFlight = new Map<string, PeerRounds>()
  /** Buckets whose last exchange with a peer changed nothing (see stuck-buckets.ts). */
  private readonly stuck = new StuckBuckets()
  private shutdown?: AbortController

  constructor (init: SyncProtocolInit) {
    this.init = init
  }

  async start (): Promise<void> {
    if (this.shutdown !== undefined) return
    this.shutdown = new AbortController()
    await this.init.libp2p.handle(this.init.protocol, (stream, connection) => {
      const round = new RoundSignal(this.shutdown?.signal, this.init.idleTimeout)
      this.respond(stream, connection.remotePeer, round).catch((reason: unknown) => {
        const err = asError(reason, 'responding')
        stream.abort(err)
        if (round.stopping) return
        this.init.counters.syncFailures++
        this.init.log('sync with %p (responding) failed - %s', connection.remotePeer, err.message)
      }).finally(() => { round.done() })
    }, { maxInboundStreams: 4, runOnLimitedConnection: false })
  }

  /** `peer` disconnected: what this node noted of its buckets may no longer hold (see stuck-buckets.ts). */
  forget (peer: string): void {
    this.stuck.forget(peer)
  }

  async stop (): Promise<void> {
    if (this.shutdown === undefined) return
    this.shutdown.abort()
    this.shutdown = undefined
    await this.init.libp2p.unhandle(this.init.protocol).catch(() => {})
    await Promise.allSettled([...this.inFlight.values()].map(async r => await (r.next ?? r.current)))
    this.stuck.clear()
  }

  /**
   * Runs a round with `peer` that covers every write made before the call:
   * at once; or the round already under way with it, if that one has not
   * taken its summary yet; or else one right after it (the summary may
   * predate the caller's latest writes). At most one round is queued per
   * peer, and every caller asking meanwhile shares it. Resolves to whether
   * the round completed; never rejects: failures are logged and counted.
   */
  sync (peer: PeerId): Promise<boolean> {
    const id = peer.toString()
    const rounds = this.inFlight.get(id)
    if (rounds === undefined) return this.startRound(peer, id)
    if (!rounds.summarized) return rounds.current
    rounds.next ??= rounds.current.then(async () => await this.startRound(peer, id))
    return rounds.next
  }

  private startRound (peer: PeerId, id: string): Promise<boolean> {
    if (this.shutdown === undefined) {
      this.inFlight.delete(id)
      return Promise.resolve(false)
    }
    const round = new RoundSignal(this.shutdown.signal, this.init.idleTimeout)
    const rounds: PeerRounds = { current: Promise.resolve(false), summarized: false }
    const current: Promise<boolean> = this.initiate(peer, round, () => { rounds.summarized = true }).then(() => true, (reason: unknown) => {
      // Not always an Error: a stream closed under a pending negotiation rejects with its close event.
      const err = asError(reason, 'opening the stream')
      if (round.stopping) return false
      this.init.counters.syncFailures++
      this.init.log('sync with %p failed - %s', peer, err.message)
      return false
    }).finally(() => {
      round.done()
      // A queued round takes the place of this one when it starts.
      if (this.inFlight.get(id) === rounds && rounds.next === undefined) this.inFlight.delete(id)
    })
    rounds.current = current
    this.inFlight.set(id, rounds)
    return current
  }

  /** One round as the initiator; `summarized` is called once the summary is taken (later writes may miss this round). */
  private async initiate (peer: PeerId, round: RoundSignal, summarized: () => void): Promise<void> {
    const stream = await this.init.libp2p.dialProtocol(peer, this.init.protocol, { signal: round.signal })
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES, maxBufferSize: MAX_BUFFERED_BYTES })
    round.watch(stream) // after the reader's own listener: data already queued goes to both
    try {
      const mine = this.init.store.digests.slice()
      const summary = encodeSummary(mine)
      summarized()
      await this.write(lp, summary, round)
      const { msg: want } = await this.read(lp, round)
      if (want.kind !== Kind.WANT) throw new InvalidMessageError(`expected WANT, got kind ${want.kind}`)
      const wanted = bucketMask(want.buckets)
      this.stuck.settledUnless(peer.toString(), wanted, mine)
      // What the responder just sent need not travel back: remember its versions.
      const received = new RoundVersions(MAX_REMEMBERED, MAX_REMEMBERED_BYTES)
      await this.receiveRecords(lp, peer, round, received)
      // Nor a bucket that now holds just what the responder's did (no notes needed for those).
      const ours = this.init.store.digests
      for (let i = 0; i < want.buckets.length; i++) {
        const b = want.buckets[i]
        if (b < SYNC_BUCKETS && ours[2 * b] === want.digests[2 * i] && ours[2 * b + 1] === want.digests[2 * i + 1]) wanted[b] = 0
      }
      await this.sendRecords(lp, wanted, round, received)
      await stream.close({ signal: round.signal })
    } catch (reason) {
      const err = asError(reason, 'closing the stream')
      stream.abort(err)
      throw err
    }
    this.init.counters.syncRounds++
  }

  private async respond (stream: Stream, peer: PeerId, round: RoundSignal): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES, maxBufferSize: MAX_BUFFERED_BYTES })
    round.watch(stream)
    const { msg: summary } = await this.read(lp, round)
    if (summary.kind !== Kind.SUMMARY) throw new InvalidMessageError(`expected SUMMARY, got kind ${summary.kind}`)
    const theirs = summary.digests
    const ours = this.init.store.digests
    if (theirs.length !== ours.length) throw new InvalidMessageError(`peer uses ${theirs.length / 2} buckets, we use ${SYNC_BUCKETS}`)
    const id = peer.toString()
    const now = performance.now()
    const buckets: number[] = []
    for (let b = 0; b < SYNC_BUCKETS; b++) {
      if (theirs[2 * b] === ours[2 * b] && theirs[2 * b + 1] === ours[2 * b + 1]) {
        this.stuck.settled(id, b)
      } else if (this.stuck.skip(id, b, ours, 2 * b, theirs, 2 * b, now)) {
        this.init.counters.syncBucketsSkipped++
      } else {
        buckets.push(b)
      }
    }
    const digests = new Uint32Array(2 * buckets.length)
    const theirDigests = new Uint32Array(2 * buckets.length)
    for (let i = 0; i < buckets.length; i++) {
      digests[2 * i] = ours[2 * buckets[i]]
      digests[2 * i + 1] = ours[2 * buckets[i] + 1]
      theirDigests[2 * i] = theirs[2 * buckets[i]]
      theirDigests[2 * i + 1] = theirs[2 * buckets[i] + 1]
    }
    await this.write(lp, encodeWant(buckets, digests), round)
    const frames = await this.sendRecords(lp, bucketMask(buckets), round)
    await this.receiveRecords(lp, peer, round, undefined, frames)
    // Both sides have applied everything now (see stuck-buckets.ts).
    this.stuck.exchanged(id, buckets, digests, theirDigests, now)
    await stream.close({ signal: round.signal })
    this.init.counters.syncRounds++
  }

  /**
   * Streams our records in the flagged buckets as RECORDS frames, then END,
   * leaving out those the peer sent us in this round (same version, horizons
   * at least as far as ours: see `RoundVersions`).
   */
  private async sendRecords (lp: LengthPrefixedStream, wanted: Uint8Array, round: RoundSignal, peerHas?: RoundVersions): Promise<number> {
    let frames = 0
    if (wanted.some(x => x !== 0)) {
      let frame: StoreRecord[] = []
      let bytes = 0
      const window = new SendWindow()
      const send = async (): Promise<void> => {
        const data = encodeRecords(frame, bytes)
        while (!window.fits(data.length)) {
          const { msg } = await this.read(lp, round)
          if (msg.kind !== Kind.RECEIVED) throw new InvalidMessageError(`expected RECEIVED, got kind ${msg.kind}`)
          window.report(msg.bytes, performance.now())
        }
        await this.write(lp, data, round)
        window.wrote(data.length, performance.now())
        frames++
        frame = []
        bytes = 0
      }
      for (const rec of this.init.store.records(wanted, SCAN_SLICE)) {
        if (rec === undefined) { await nextTurn(); continue }
        if (peerHas?.has(rec) === true) continue
        const size = recordSize(rec)
        if ((bytes + size > FRAME_BYTES && frame.length > 0) || frame.length === MAX_RECORDS_PER_MESSAGE) await send()
        frame.push(rec)
        bytes += size
      }
      if (frame.length > 0) await send()
    }
    await this.write(lp, encodeEnd(), round)
    return frames
  }

  /**
   * Reads RECORDS frames until END, validating and applying each, and
   * reporting each as RECEIVED once applied. RECEIVED reports on this
   * side's own frames that come before (the responder's case: at most one
   * per frame it sent, `reportsDue`) are skipped. Nor does an honest peer
   * send an empty RECORDS frame: frames that carry nothing would keep the
   * round open for ever, never idle.
   */
  private async receiveRecords (lp: LengthPrefixedStream, peer: PeerId, round: RoundSignal, received?: RoundVersions, reportsDue = 0): Promise<void> {
    const from = peer.toString()
    let taken = 0
    for (;;) {
      const { msg, bytes } = await this.read(lp, round)
      if (msg.kind === Kind.END) return
      if (msg.kind === Kind.RECEIVED) {
        if (reportsDue-- <= 0) throw new InvalidMessageError('RECEIVED report on no frame of this node')
        continue
      }
      if (msg.kind !== Kind.RECORDS) throw new InvalidMessageError(`expected RECORDS or END, got kind ${msg.kind}`)
      if (msg.records.length === 0) throw new InvalidMessageError('RECORDS frame with no record')
      const now = this.init.clock()
      const fresh: WireRecord[] = []
      let refused: WireRecord[] | undefined
      let notices = 0
      for (const rec of msg.records) {
        const verdict = checkRecord(rec, now, this.init.bounds)
        if (rec.notice === true) {
          // A version the peer keeps only a marker of: its guard, for a node that holds the version.
          if (verdict === 'ok') { fresh.push(rec); notices++ } else if (verdict !== 'expired') {
            this.init.counters.rejected++
            this.init.log('dropped a synced notice of "%s" from %p: %s', rec.key, peer, verdict)
          }
          continue
        }
        // An expired record (a round is slow, or this clock a little ahead of
        // the sender's) still supersedes an older version held here: the
        // store removes that and keeps nothing else.
        if (verdict === 'ok' || verdict === 'expired') {
          fresh.push(rec)
          received?.add(rec)
        } else {
          // Dropped alone: a record this node cannot take must not stall every later round.
          this.init.counters.rejected++
          this.init.log('dropped synced record "%s" from %p: %s', rec.key, peer, verdict)
          // A newer version over this node's limits still supersedes older ones here.
          if (overOwnLimits(verdict)) (refused ??= []).push(rec)
        }
      }
      this.init.counters.syncEntriesReceived += fresh.length - notices
      if (refused !== undefined) this.init.onRefused(refused, from)
      if (fresh.length > 0) this.init.onRecords(fresh, from)
      taken += bytes
      await this.write(lp, encodeReceived(taken), round)
    }
  }

  /** The next frame, decoded, and its size. */
  private async read (lp: LengthPrefixedStream, round: RoundSignal): Promise<{ msg: Message, bytes: number }> {
    let data: Uint8Array
    try {
      data = (await lp.read({ signal: round.signal })).subarray()
    } catch (err) {
      throw asError(err, 'reading')
    }
    round.touch()
    this.init.counters.syncBytesReceived += data.length
    try {
      return { msg: decodeMessage(data, this.init.limits), bytes: data.length }
    } catch (err) {
      this.init.counters.rejected++
      throw err
    }
  }

  private async write (lp: LengthPrefixedStream, data: Uint8Array, round: RoundSignal): Promise<void> {
    this.init.counters.syncBytesSent += data.length
    try {
      await lp.write(data, { signal: round.signal })
    } catch (err) {
      throw asError(err, 'writing')
    }
    round.touch()
  }
}

/** The stream's failure as an `Error` (a stream closing under a pending write rejects it with its close event). */
function asError (err: unknown, doing: string): Error {
  if (err instanceof Error) return err
  const type = (err as { type?: unknown } | undefined)?.type
  return new Error(typeof type === 'string' ? `the stream ended while ${doing} (${type})` : `${doing} failed: ${String(err)}`)
}

function bucketMask (buckets: number[]): Uint8Array {
  const mask = new Uint8Array(SYNC_BUCKETS)
  for (const b of buckets) if (b < SYNC_BUCKETS) mask[b] = 1
  return mask
}
