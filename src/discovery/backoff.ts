/**
 * Per-peer backoffs after failures: the first failure holds a peer off for
 * `minMs`, each further one doubles that up to `maxMs`, and a success
 * (`delete`) forgets it. At most `maxPeers` are remembered; beyond that the
 * one whose last failure is oldest is forgotten (as if it had succeeded).
 * Times are `performance.now()` ms.
 */
export class BackoffTable {
  private readonly minMs: number
  private readonly maxMs: number
  private readonly maxPeers: number
  /** By peer id, in order of last failure (the first key is the longest-quiet peer). */
  private readonly entries = new Map<string, { delayMs: number, until: number }>()

  constructor (minMs: number, maxMs: number, maxPeers = 1_024) {
    this.minMs = minMs
    this.maxMs = maxMs
    this.maxPeers = maxPeers
  }

  /** Records a failure of `id`; returns how long it is now held off, ms. */
  fail (id: string, now = performance.now()): number {
    const last = this.entries.get(id)
    const delayMs = last === undefined ? this.minMs : Math.min(last.delayMs * 2, this.maxMs)
    this.entries.delete(id) // re-inserted: the map stays in order of last failure
    this.entries.set(id, { delayMs, until: now + delayMs })
    if (this.entries.size > this.maxPeers) this.entries.delete(this.entries.keys().next().value!)
    return delayMs
  }

  /** Whether `id` is held off now. */
  active (id: string, now = performance.now()): boolean {
    return now < (this.entries.get(id)?.until ?? 0)
  }

  /** Forgets `id`'s failures. */
  delete (id: string): void {
    this.entries.delete(id)
  }

  clear (): void {
    this.entries.clear()
  }
}
