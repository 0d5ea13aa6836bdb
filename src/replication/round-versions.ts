/**
 * The versions a sync initiator received in the current round, by key, so
 * that it does not send them straight back. Only the version is kept (not
 * the record, whose value would pin the whole frame it arrived in), and at
 * most `max` keys: past that, a record is simply sent back, and the peer
 * finds it stale. So a peer that keeps sending records for the whole round
 * costs this node a bounded amount of memory, whatever it sends.
 */
interface Version {
  wall: number
  counter: number
  origin: string
}

export class RoundVersions {
  private readonly versions = new Map<string, Version>()
  private readonly max: number

  constructor (max: number) {
    this.max = max
  }

  get size (): number { return this.versions.size }

  /** Notes that the peer holds `rec`'s version of its key (ignored once `max` keys are noted). */
  add (rec: Version & { key: string }): void {
    const known = this.versions.get(rec.key)
    if (known !== undefined) {
      known.wall = rec.wall
      known.counter = rec.counter
      known.origin = rec.origin
    } else if (this.versions.size < this.max) {
      this.versions.set(rec.key, { wall: rec.wall, counter: rec.counter, origin: rec.origin })
    }
  }

  /** Whether the peer was noted holding exactly `rec`'s version of its key. */
  has (rec: Version & { key: string }): boolean {
    const v = this.versions.get(rec.key)
    return v !== undefined && v.wall === rec.wall && v.counter === rec.counter && v.origin === rec.origin
  }
}
