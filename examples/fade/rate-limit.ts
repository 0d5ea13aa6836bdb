/**
 * Per-client token buckets for posting: each address may post `perMinute`
 * times in a burst, then one post per `60 / perMinute` seconds. Buckets are
 * data checked on use (no timers); full buckets are forgotten when the
 * table grows, so memory stays bounded whatever clients do.
 */

export interface RateLimiterInit {
  /** Posts allowed per minute, and the burst size. */
  perMinute: number
  /** Most client buckets kept. @default 10000 */
  maxClients?: number
  /** Time source, epoch ms. For tests. @default Date.now */
  clock?: () => number
}

interface Bucket { tokens: number, at: number }

export class PostRateLimiter {
  private readonly perMinute: number
  private readonly maxClients: number
  private readonly clock: () => number
  private readonly buckets = new Map<string, Bucket>()

  constructor (init: RateLimiterInit) {
    this.perMinute = init.perMinute
    this.maxClients = init.maxClients ?? 10_000
    this.clock = init.clock ?? Date.now
  }

  /**
   * Takes one token for `client`. Returns 0 when allowed, else how many
   * seconds (rounded up) until the next post is allowed.
   */
  take (client: string): number {
    const now = this.clock()
    const bucket = this.refill(this.buckets.get(client), now)
    // Re-insert so the Map's order is least recently used first (see prune).
    this.buckets.delete(client)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      this.buckets.set(client, bucket)
      this.prune(now)
      return 0
    }
    this.buckets.set(client, bucket)
    const msPerToken = 60_000 / this.perMinute
    // The epsilon keeps float noise (0.95 tokens -> 1.0000000000000009 s) from adding a second.
    return Math.max(1, Math.ceil((1 - bucket.tokens) * msPerToken / 1000 - 1e-9))
  }

  private refill (bucket: Bucket | undefined, now: number): Bucket {
    if (bucket === undefined) return { tokens: this.perMinute, at: now }
    const elapsed = Math.max(0, now - bucket.at)
    return { tokens: Math.min(this.perMinute, bucket.tokens + elapsed * this.perMinute / 60_000), at: now }
  }

  private prune (now: number): void {
    if (this.buckets.size <= this.maxClients) return
    for (const [client, bucket] of this.buckets) {
      if (this.refill(bucket, now).tokens >= this.perMinute) this.buckets.delete(client)
    }
    // Still too many active clients: drop the oldest-touched ones.
    for (const client of this.buckets.keys()) {
      if (this.buckets.size <= this.maxClients) break
      this.buckets.delete(client)
    }
  }
}
