/**
 * The versions a sync initiator received in the current round, by key, so
 * that it does not send them straight back. Only the version and its two
 * horizons are kept (not the record, whose value would pin the whole frame
 * it arrived in), for at most `max` keys and about `maxBytes` of memory
 * (keys count at two bytes per code unit, plus `NOTE_BYTES` each): past
 * that, a record is simply sent back, and the peer finds it stale. So a
 * peer that keeps sending records for the whole round costs this node a
 * bounded amount of memory, whatever it sends (a million notes of 512-byte
 * keys took about 630 MiB before the byte bound).
 *
 * The same version can travel back all the same: when this node's copy of
 * it lives longer (a marker's horizon) or guards longer (`guardUntil`, the
 * expiry of older versions this node saw it supersede, which a writer cut
 * off from them never knew). Without it, the peer would forget the key
 * when the version expires, and an older version still alive elsewhere
 * could come back through it.
 */
interface Noted {
  wall: number
  counter: number
  origin: string
  expiresAt: number
  guardUntil: number
}

/**
 * Heap bytes of one note besides its key's characters, from above: the map
 * entry, the note, the key's header (measured: 165 bytes per note of a
 * 16-byte key, 661 of a 512-byte one).
 */
export const NOTE_BYTES = 160

export class RoundVersions {
  private readonly versions = new Map<string, Noted>()
  private readonly max: number
  private readonly maxBytes: number
  private bytes = 0

  constructor (max: number, maxBytes = Infinity) {
    this.max = max
    this.maxBytes = maxBytes
  }

  get size (): number { return this.versions.size }

  /** Notes that the peer holds `rec` (ignored once `max` keys or `maxBytes` are noted). */
  add (rec: Noted & { key: string }): void {
    const known = this.versions.get(rec.key)
    if (known !== undefined) {
      known.wall = rec.wall
      known.counter = rec.counter
      known.origin = rec.origin
      known.expiresAt = rec.expiresAt
      known.guardUntil = rec.guardUntil
    } else if (this.versions.size < this.max && this.bytes + NOTE_BYTES + 2 * rec.key.length <= this.maxBytes) {
      this.bytes += NOTE_BYTES + 2 * rec.key.length
      this.versions.set(rec.key, { wall: rec.wall, counter: rec.counter, origin: rec.origin, expiresAt: rec.expiresAt, guardUntil: rec.guardUntil })
    }
  }

  /**
   * Whether the peer was noted holding `rec`'s version of its key, with
   * horizons at least as far: then sending `rec` would tell it nothing.
   */
  has (rec: Noted & { key: string }): boolean {
    const v = this.versions.get(rec.key)
    return v !== undefined && v.wall === rec.wall && v.counter === rec.counter && v.origin === rec.origin &&
      rec.expiresAt <= v.expiresAt && rec.guardUntil <= v.guardUntil
  }
}
