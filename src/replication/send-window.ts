/**
 * How much a sync sender may have out: bytes of RECORDS frames written that
 * the peer has not reported received yet (its RECEIVED reports, see
 * sync.ts).
 *
 * The window follows the delay of those reports, as delay-based congestion
 * control does (LEDBAT): the lowest delay seen from writing a frame to its
 * report is the link's own (one frame's transfer time, the round trip, the
 * peer applying it); a delay more than `QUEUE_TARGET_MS` above it means
 * frames are queuing somewhere on the way, and the window shrinks by a
 * quarter. Otherwise each report grows it by the bytes it covers, so it
 * doubles per round trip up to `MAX_WINDOW_BYTES`. On a fast link or
 * loopback the window soon exceeds what the peer applies at a time, and a
 * round runs as fast as the slower side; on a slow link (2 Mbit/s) it stays
 * near a frame or two, so what queues on the connection, ahead of gossip
 * and of libp2p's pings, crosses the link in well under a second (a ping
 * waits behind that two or three times, and libp2p drops a connection whose
 * ping takes 5 s).
 *
 * Pure: the caller passes the time.
 */
import { InvalidMessageError } from '../errors.ts'

/** The window a round starts with, bytes. */
export const START_WINDOW_BYTES = 256 * 1024
/** The window never shrinks below this (one full frame goes out at any time regardless). */
export const MIN_WINDOW_BYTES = 64 * 1024
/** Nor grows beyond this. */
export const MAX_WINDOW_BYTES = 16 * 1024 * 1024
/** Report delay above the lowest seen that counts as queuing, ms. */
export const QUEUE_TARGET_MS = 100

export class SendWindow {
  /** Current window, bytes. */
  window = START_WINDOW_BYTES
  private sent = 0
  private received = 0
  /** Cumulative end offset and write time of each frame not reported yet, oldest first. */
  private readonly ends: number[] = []
  private readonly times: number[] = []
  private head = 0
  private baseDelay = Infinity

  /** Bytes out and not reported received. */
  get outstanding (): number { return this.sent - this.received }

  /** Whether the next frame must wait for a report. */
  get full (): boolean { return this.sent - this.received >= this.window }

  /** A frame of `bytes` was written at `now`. */
  wrote (bytes: number, now: number): void {
    this.sent += bytes
    this.ends.push(this.sent)
    this.times.push(now)
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
    let written: number | undefined
    while (this.head < this.ends.length && this.ends[this.head] <= received) written = this.times[this.head++]
    if (this.head > 64 && this.head * 2 > this.ends.length) {
      this.ends.splice(0, this.head)
      this.times.splice(0, this.head)
      this.head = 0
    }
    if (written === undefined) return // part of a frame (a peer may report as it likes): no delay to judge by
    const delay = now - written
    if (delay < this.baseDelay) this.baseDelay = delay
    if (delay > this.baseDelay + QUEUE_TARGET_MS) {
      this.window = Math.max(MIN_WINDOW_BYTES, Math.floor(this.window * 0.75))
    } else {
      this.window = Math.min(MAX_WINDOW_BYTES, this.window + acked)
    }
  }
}
