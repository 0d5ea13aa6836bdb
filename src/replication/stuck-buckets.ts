/**
 * Per peer, the sync buckets whose last exchange changed nothing.
 *
 * A round sends both sides' records in every bucket whose digests differ,
 * and each side applies what it can. When a side refuses a record and keeps
 * nothing in its place (a key over its own `maxKeyBytes`, a full store, a
 * clock too far apart; a value over its `maxValueBytes` leaves a marker
 * with the same digest: `MemoryStore.refuse`), the two digests of that
 * bucket stay apart, and without this every later round with that peer
 * sent the whole bucket again, both ways (measured: 30 MiB in 10 s with a
 * 1 s `syncInterval`).
 *
 * The evidence that an exchange was futile: a completed round exchanged
 * bucket `b` when the digests were `(mine, theirs)`, and the next round
 * finds exactly the same pair. Neither side changed anything in `b` (a
 * write, a delete or an expiry there changes a digest), so the same
 * exchange would end the same way. The responder, which picks the buckets
 * of a round, then leaves `b` out of the next 1 round with that peer, after
 * the next futile exchange the next 2, then 4, up to `MAX_SKIPS`, and never
 * for longer than `MAX_SKIP_MS`: a refusal can be temporary (a full store
 * that has room again, a clock that caught up), so it is retried, less and
 * less often. Any change to the bucket on either side makes a new pair,
 * which is exchanged at once.
 *
 * Only the responder notes an exchange: its round ends when it has taken
 * the initiator's last records, which the initiator sends only once it has
 * taken the responder's, so both sides applied everything. (The
 * initiator's round ends when its last bytes are written: a round that
 * fails after that must not count.) Pairs are kept only for buckets that
 * differed at the last round: a responder forgets a bucket once it finds
 * it equal; as initiator, once the responder no longer asks for it and its
 * own digest of it changed. A peer's notes go when it disconnects (it may
 * come back restarted, with other limits or an empty store) and when this
 * node stops. At most `maxPeers` peers are remembered, the one used least
 * recently is forgotten first (its buckets are then exchanged as if new).
 */

/** Most rounds in a row a futile bucket is left out. */
export const MAX_SKIPS = 32
/** Longest a futile bucket is left out, ms: it is retried at the first round after that. */
export const MAX_SKIP_MS = 10 * 60_000

interface Exchange {
  /** The bucket's digests (two 32-bit lanes each) when it was last exchanged. */
  mine0: number
  mine1: number
  theirs0: number
  theirs1: number
  /** Completed exchanges in a row with this very pair. */
  strikes: number
  /** Rounds it was left out since. */
  skipped: number
  /** When it was last exchanged, ms. */
  at: number
}

export class StuckBuckets {
  private readonly maxPeers: number
  /** By peer id, in order of last use (the first is the least recently used). */
  private readonly peers = new Map<string, Map<number, Exchange>>()

  constructor (maxPeers = 256) {
    this.maxPeers = maxPeers
  }

  /** Peers with notes (for tests). */
  get size (): number { return this.peers.size }

  /**
   * The responder's choice for one bucket: whether to leave `bucket` out of
   * this round with `peer`, given both sides' digests of it now (two
   * lanes each, interleaved as in the store's digests). Counts the skip.
   * A bucket found equal should be passed to `settled` instead.
   */
  skip (peer: string, bucket: number, mine: Uint32Array, mineAt: number, theirs: Uint32Array, theirsAt: number, now: number): boolean {
    const e = this.peers.get(peer)?.get(bucket)
    if (e === undefined || !samePair(e, mine, mineAt, theirs, theirsAt)) return false
    if (e.skipped >= Math.min(2 ** (e.strikes - 1), MAX_SKIPS) || now - e.at >= MAX_SKIP_MS) return false
    e.skipped++
    return true
  }

  /** `bucket`'s digests are equal with `peer` now: nothing to remember of it. */
  settled (peer: string, bucket: number): void {
    const buckets = this.peers.get(peer)
    if (buckets === undefined) return
    buckets.delete(bucket)
    if (buckets.size === 0) this.peers.delete(peer)
  }

  /**
   * The initiator's part: `peer` did not want the buckets not flagged in
   * `wanted` (a mask by bucket), given this side's digests `mine` (all
   * buckets, as in the summary). Such a bucket is equal on both sides now,
   * or the responder left it out for a pair of digests it noted; a note
   * whose own digest is no longer this side's cannot be that pair, so the
   * bucket is equal: its note goes (after a join, all of them).
   */
  settledUnless (peer: string, wanted: Uint8Array, mine: Uint32Array): void {
    const notes = this.peers.get(peer)
    if (notes === undefined) return
    for (const [b, e] of notes) {
      if (wanted[b] !== 1 && (e.mine0 !== mine[2 * b] || e.mine1 !== mine[2 * b + 1])) notes.delete(b)
    }
    if (notes.size === 0) this.peers.delete(peer)
  }

  /**
   * A round with `peer` completed, exchanging `buckets`; `mine` and
   * `theirs` hold the two sides' digests of them from before the exchange,
   * at `2 * i` and `2 * i + 1` for `buckets[i]`.
   */
  exchanged (peer: string, buckets: ArrayLike<number>, mine: Uint32Array, theirs: Uint32Array, now: number): void {
    if (buckets.length === 0) return
    let notes = this.peers.get(peer)
    if (notes === undefined) notes = new Map()
    this.peers.delete(peer) // re-inserted: the map stays in order of last use
    this.peers.set(peer, notes)
    if (this.peers.size > this.maxPeers) this.peers.delete(this.peers.keys().next().value!)
    for (let i = 0; i < buckets.length; i++) {
      const b = buckets[i]
      const e = notes.get(b)
      if (e !== undefined && samePair(e, mine, 2 * i, theirs, 2 * i)) {
        e.strikes++
        e.skipped = 0
        e.at = now
      } else {
        notes.set(b, { mine0: mine[2 * i], mine1: mine[2 * i + 1], theirs0: theirs[2 * i], theirs1: theirs[2 * i + 1], strikes: 1, skipped: 0, at: now })
      }
    }
  }

  /** Forgets `peer`'s notes. */
  forget (peer: string): void {
    this.peers.delete(peer)
  }

  clear (): void {
    this.peers.clear()
  }
}

function samePair (e: Exchange, mine: Uint32Array, mineAt: number, theirs: Uint32Array, theirsAt: number): boolean {
  return e.mine0 === mine[mineAt] && e.mine1 === mine[mineAt + 1] && e.theirs0 === theirs[theirsAt] && e.theirs1 === theirs[theirsAt + 1]
}
