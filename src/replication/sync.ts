/**
 * The sync protocol: catches up late joiners and heals partitions.
 *
 * One round over one stream (`/repram/<network>/sync/1.0.0`), frames
 * length-prefixed (lpStream):
 *
 *   initiator -> responder  SUMMARY  per-bucket digests of what it holds
 *   responder -> initiator  WANT     buckets whose digests differ
 *   responder -> initiator  RECORDS* the responder's records in those buckets
 *   responder -> initiator  END
 *   initiator -> responder  RECORDS* the initiator's records in those buckets,
 *                                    less those it just received (same version)
 *   initiator -> responder  END
 *
 * Both sides apply what they receive under last-writer-wins, so both end
 * with the union of live entries (and markers). Two nodes already in sync
 * exchange an 8 KiB summary and two tiny frames. Records are validated like
 * gossip and dropped one by one; a malformed frame ends the round (the
 * stream is reset).
 *
 * Rounds run when a peer joins (the side with the smaller peer id starts)
 * and every `syncInterval` with one random peer (anti-entropy).
 */
import { lpStream } from '@libp2p/utils'
import { decodeMessage, encodeEnd, encodeRecords, encodeSummary, encodeWant, recordSize, Kind, MAX_RECORDS_PER_MESSAGE } from './codec.ts'
import { checkRecord } from './validate.ts'
import { RoundVersions } from './round-versions.ts'
import { InvalidMessageError } from '../errors.ts'
import { SYNC_BUCKETS } from '../store/digest.ts'
import type { Message, WireRecord } from './codec.ts'
import type { ReplicationContext } from './counters.ts'
import type { MemoryStore, StoreRecord } from '../store/memory-store.ts'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'

/** Target size of one RECORDS frame while syncing. */
const FRAME_BYTES = 256 * 1024
/** Largest frame accepted: one record with a maximal value fits. */
const MAX_FRAME_BYTES = 4 * 1024 * 1024
/** Most keys an initiator remembers per round as already held by the peer (see `RoundVersions`). */
const MAX_REMEMBERED = 1_000_000
/**
 * Most bytes received and not yet read on a sync stream. Frames arrive as
 * fast as the network carries them, and while one is being applied the
 * next ones queue up: with values of a few MiB, the 4 MiB default of the
 * byte stream overflowed after two frames and failed the round.
 */
const MAX_BUFFERED_BYTES = 4 * MAX_FRAME_BYTES
/** A round that takes longer than this is abandoned. */
export const SYNC_TIMEOUT_MS = 60_000

export interface SyncProtocolInit extends ReplicationContext {
  libp2p: Libp2p
  protocol: string
  store: MemoryStore
}

export class SyncProtocol {
  private readonly init: SyncProtocolInit
  private readonly inFlight = new Map<string, Promise<void>>()
  private shutdown?: AbortController

  constructor (init: SyncProtocolInit) {
    this.init = init
  }

  async start (): Promise<void> {
    if (this.shutdown !== undefined) return
    this.shutdown = new AbortController()
    await this.init.libp2p.handle(this.init.protocol, (stream, connection) => {
      this.respond(stream, connection.remotePeer).catch(err => {
        this.init.counters.syncFailures++
        this.init.log('sync with %p (responding) failed - %s', connection.remotePeer, (err as Error).message)
        stream.abort(err as Error)
      })
    }, { maxInboundStreams: 4, runOnLimitedConnection: false })
  }

  async stop (): Promise<void> {
    if (this.shutdown === undefined) return
    this.shutdown.abort()
    this.shutdown = undefined
    await this.init.libp2p.unhandle(this.init.protocol).catch(() => {})
    await Promise.allSettled(this.inFlight.values())
  }

  /**
   * Runs one round with `peer` (joining one already under way with it).
   * Never rejects: failures are logged and counted.
   */
  sync (peer: PeerId): Promise<void> {
    const id = peer.toString()
    const running = this.inFlight.get(id)
    if (running !== undefined) return running
    const round = this.initiate(peer).catch(err => {
      if (this.shutdown === undefined) return
      this.init.counters.syncFailures++
      this.init.log('sync with %p failed - %s', peer, (err as Error).message)
    }).finally(() => { this.inFlight.delete(id) })
    this.inFlight.set(id, round)
    return round
  }

  private signal (): AbortSignal {
    const shutdown = this.shutdown?.signal ?? AbortSignal.abort()
    return AbortSignal.any([shutdown, AbortSignal.timeout(SYNC_TIMEOUT_MS)])
  }

  private async initiate (peer: PeerId): Promise<void> {
    const signal = this.signal()
    const stream = await this.init.libp2p.dialProtocol(peer, this.init.protocol, { signal })
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES, maxBufferSize: MAX_BUFFERED_BYTES })
    try {
      await this.write(lp, encodeSummary(this.init.store.digests), signal)
      const want = await this.read(lp, signal)
      if (want.kind !== Kind.WANT) throw new InvalidMessageError(`expected WANT, got kind ${want.kind}`)
      const wanted = bucketMask(want.buckets)
      // What the responder just sent need not travel back: remember its versions.
      const received = new RoundVersions(MAX_REMEMBERED)
      await this.receiveRecords(lp, peer, signal, received)
      await this.sendRecords(lp, wanted, signal, received)
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
    this.init.counters.syncRounds++
  }

  private async respond (stream: Stream, peer: PeerId): Promise<void> {
    const signal = this.signal()
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES, maxBufferSize: MAX_BUFFERED_BYTES })
    const summary = await this.read(lp, signal)
    if (summary.kind !== Kind.SUMMARY) throw new InvalidMessageError(`expected SUMMARY, got kind ${summary.kind}`)
    const theirs = summary.digests
    const ours = this.init.store.digests
    if (theirs.length !== ours.length) throw new InvalidMessageError(`peer uses ${theirs.length / 2} buckets, we use ${SYNC_BUCKETS}`)
    const buckets: number[] = []
    for (let b = 0; b < SYNC_BUCKETS; b++) {
      if (theirs[2 * b] !== ours[2 * b] || theirs[2 * b + 1] !== ours[2 * b + 1]) buckets.push(b)
    }
    await this.write(lp, encodeWant(buckets), signal)
    await this.sendRecords(lp, bucketMask(buckets), signal)
    await this.receiveRecords(lp, peer, signal)
    await stream.close({ signal })
    this.init.counters.syncRounds++
  }

  /**
   * Streams our records in the flagged buckets as RECORDS frames, then END,
   * leaving out those the peer sent us in this round (same version).
   */
  private async sendRecords (lp: LengthPrefixedStream, wanted: Uint8Array, signal: AbortSignal, peerHas?: RoundVersions): Promise<void> {
    if (wanted.some(x => x !== 0)) {
      let frame: StoreRecord[] = []
      let bytes = 0
      for (const rec of this.init.store.records(wanted)) {
        if (peerHas?.has(rec) === true) continue
        const size = recordSize(rec)
        if ((bytes + size > FRAME_BYTES && frame.length > 0) || frame.length === MAX_RECORDS_PER_MESSAGE) {
          await this.write(lp, encodeRecords(frame, bytes), signal)
          frame = []
          bytes = 0
        }
        frame.push(rec)
        bytes += size
      }
      if (frame.length > 0) await this.write(lp, encodeRecords(frame, bytes), signal)
    }
    await this.write(lp, encodeEnd(), signal)
  }

  /** Reads RECORDS frames until END, validating and applying each. */
  private async receiveRecords (lp: LengthPrefixedStream, peer: PeerId, signal: AbortSignal, received?: RoundVersions): Promise<void> {
    const from = peer.toString()
    for (;;) {
      const msg = await this.read(lp, signal)
      if (msg.kind === Kind.END) return
      if (msg.kind !== Kind.RECORDS) throw new InvalidMessageError(`expected RECORDS or END, got kind ${msg.kind}`)
      const now = this.init.clock()
      const fresh: WireRecord[] = []
      for (const rec of msg.records) {
        const verdict = checkRecord(rec, now, this.init.bounds)
        if (verdict === 'ok') {
          fresh.push(rec)
          received?.add(rec)
        } else if (verdict !== 'expired') {
          // Dropped alone: a record this node cannot take must not stall every later round.
          this.init.counters.rejected++
          this.init.log('dropped synced record "%s" from %p: %s', rec.key, peer, verdict)
        }
      }
      this.init.counters.syncEntriesReceived += fresh.length
      if (fresh.length > 0) this.init.onRecords(fresh, from)
    }
  }

  private async read (lp: LengthPrefixedStream, signal: AbortSignal): Promise<Message> {
    const data = (await lp.read({ signal })).subarray()
    this.init.counters.syncBytesReceived += data.length
    try {
      return decodeMessage(data, this.init.limits)
    } catch (err) {
      this.init.counters.rejected++
      throw err
    }
  }

  private async write (lp: LengthPrefixedStream, data: Uint8Array, signal: AbortSignal): Promise<void> {
    this.init.counters.syncBytesSent += data.length
    await lp.write(data, { signal })
  }
}

function bucketMask (buckets: number[]): Uint8Array {
  const mask = new Uint8Array(SYNC_BUCKETS)
  for (const b of buckets) if (b < SYNC_BUCKETS) mask[b] = 1
  return mask
}
