/**
 * How much a sync sender may have out: bytes of RECORDS frames written that
 * the peer has not reported received yet (its RECEIVED reports, see
 * sync.ts).
 *
 * The window is the link's bandwidth-delay product plus a short queue, as
 * in BBR: `rate × (minDelay + QUEUE_TARGET_MS)`, where
 * - `rate` is the bytes the peer reported over the last second or so (what
 *   the link and the peer's applying of records carry together), and
 * - `minDelay` is the lowest delay seen from writing a frame to its report:
 *   the round trip, one frame's transfer and the peer applying it.
 * While the window limits the rate (a fast link), the rate measured is
 * window / delay, and the next window is larger by (minDelay + target) /
 * delay: it grows until the link or the peer is the limit, then the queue
 * settles at about `QUEUE_TARGET_MS` of data. Until a rate is known the
 * window starts at `START_WINDOW_BYTES` and grows by what each report
 * covers. On loopback or a fast link it soon reaches `MAX_WINDOW_BYTES`; on
 * a slow link (2 Mbit/s) what queues on the connection, ahead of gossip
 * and of libp2p's pings, crosses it in a frame's time plus
 * `QUEUE_TARGET_MS` (half a second). A frame goes out when it fits in the window, or when
 * nothing is out, so frames larger than the window (large values on a slow
 * link) go one at a time.
 *
 * Pure: the caller passes the time (ms).
 */
import { InvalidMessageError } from '../errors.ts'

/** The window before a rate is known, bytes. */
export const START_WINDOW_BYTES = 256 * 1024
/** The window is never set below this, bytes. */
export const MIN_WINDOW_BYTES = 64 * 1024
/**
 * Nor above this: with one frame of up to 4 MiB on top, what a peer may
 * have to buffer stays under its 16 MiB per sync stream.
 */
export const MAX_WINDOW_BYTES = 8 * 1024 * 1024
/**
 * How long what is queued on the link may take to cross it, ms. Also the
 * longest report delay at which one frame out can grow to two: with k
 * frames of F out and a delay d, the next window is kF·(1 + target/d), room
 * for one more frame only while d <= k·target. So below 500 ms of delay a
 * round grows even when each frame is one large value; above it, such a
 * round stays at a frame per round trip.
 */
export const QUEUE_TARGET_MS = 500
/** Reports older than this are not used for the rate, ms. */
const RATE_SPAN_MS = 1_000
/** A rate is measured over at least this long, ms. */
const MIN_RATE_SPAN_MS = 50

export class SendWindow {
  /** Current window, bytes. */
  window = START_WINDOW_BYTES
  /** Delivery rate, bytes per ms (undefined until measured). */
  rate: number | undefined
  /** Lowest delay seen from writing a frame to its report, ms. */
  minDelay = Infinity
  private sent = 0
  private received = 0
  /** Frames not reported yet, oldest first: cumulative end offset and write time. */
  private frames: Array<{ end: number, at: number }> = []
  /** Reports of the last `RATE_SPAN_MS`: time and cumulative bytes. */
  private reports: Array<{ at: number, received: number }> = [{ at: -Infinity, received: 0 }]

  /** Bytes out and not reported received. */
  get outstanding (): number { return this.sent - this.received }

  /** Whether a frame of `bytes` may go out now. */
  fits (bytes: number): boolean {
    return this.outstanding === 0 || this.outstanding + bytes <= this.window
  }

  /** A frame of `bytes` was written at `now`. */
  wrote (bytes: number, now: number): void {
    this.sent += bytes
    this.frames.push({ end: this.sent, at: now })
    if (this.reports.length === 1 && this.reports[0].at === -Infinity) this.reports[0].at = now
  }

  /**
   * The peer reports `received` bytes taken in, at `now`. Throws
   * `InvalidMessageError` for a report that does not move forward or covers
   * more than was sent.
   */
  report (received: number, now: number): void {
    if (received <= this.received || received > this.sent) {
      throw new InvalidMessageError(`RECEIVED reports ${received} bytes; ${this.received} were reported before and ${this.sent} sent`)
    }
    const acked = received - this.received
    this.received = received

    // The rate over the reports of the last second (the first write counts as a report of 0).
    this.reports.push({ at: now, received })
    while (this.reports.length > 2 && this.reports[1].at < now - RATE_SPAN_MS) this.reports.shift()
    const first = this.reports[0]
    if (now - first.at >= MIN_RATE_SPAN_MS) this.rate = (received - first.received) / (now - first.at)

    // The delay of the last frame this report completes.
    let done: { end: number, at: number } | undefined
    let i = 0
    while (i < this.frames.length && this.frames[i].end <= received) done = this.frames[i++]
    if (i > 0) this.frames = this.frames.slice(i)
    if (done !== undefined) this.minDelay = Math.min(this.minDelay, now - done.at)

    if (this.rate === undefined || this.minDelay === Infinity) {
      this.window = Math.min(MAX_WINDOW_BYTES, this.window + acked)
    } else {
      this.window = Math.round(Math.min(MAX_WINDOW_BYTES, Math.max(MIN_WINDOW_BYTES, this.rate * (this.minDelay + QUEUE_TARGET_MS))))
    }
  }
}
