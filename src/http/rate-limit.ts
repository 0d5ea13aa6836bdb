/**
 * Per-client token buckets. Each client (keyed by remote address) may make
 * `burst` requests at once and `requestsPerSecond` on average. Buckets are
 * plain data refilled lazily on use: no timers. A bucket that has refilled
 * completely is the same as no bucket, so idle ones are swept away, and the
 * table never holds more than `maxClients` buckets.
 */

export interface RateLimitOptions {
  /** Average requests per second a client may make. */
  requestsPerSecond: number
  /** Requests a client may make at once before the average applies. */
  burst: number
}

export type RateLimitDecision = { allowed: true } | { allowed: false, retryAfterSeconds: number }

interface Bucket {
  tokens: number
  /** When `tokens` was last brought up to date, epoch ms. */
  at: number
}

export interface RateLimiterInit extends RateLimitOptions {
  /** Most buckets kept; beyond it the oldest is dropped. @default 10000 */
  maxClients?: number
  /** Time source, epoch ms. @default Date.now */
  clock?: () => number
}

const SWEEP_INTERVAL_MS = 10_000

export class RateLimiter {
  readonly #rate: number
  readonly #burst: number
  readonly #maxClients: number
  readonly #clock: () => number
  readonly #buckets = new Map<string, Bucket>()
  #lastSweep: number

  constructor (init: RateLimiterInit) {
    this.#rate = init.requestsPerSecond
    this.#burst = init.burst
    this.#maxClients = init.maxClients ?? 10_000
    this.#clock = init.clock ?? Date.now
    this.#lastSweep = this.#clock()
  }

  /** Number of clients currently tracked. */
  get size (): number {
    return this.#buckets.size
  }

  /** Takes one token from `client`'s bucket, or says how long until one is available. */
  take (client: string): RateLimitDecision {
    const now = this.#clock()
    this.#maybeSweep(now)
    let bucket = this.#buckets.get(client)
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxClients) {
        const oldest = this.#buckets.keys().next().value
        if (oldest !== undefined) this.#buckets.delete(oldest)
      }
      bucket = { tokens: this.#burst, at: now }
      this.#buckets.set(client, bucket)
    } else {
      this.#refill(bucket, now)
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return { allowed: true }
    }
    const waitMs = ((1 - bucket.tokens) / this.#rate) * 1000
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) }
  }

  #refill (bucket: Bucket, now: number): void {
    const elapsed = Math.max(0, now - bucket.at)
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (elapsed / 1000) * this.#rate)
    bucket.at = now
  }

  #maybeSweep (now: number): void {
    if (now - this.#lastSweep < SWEEP_INTERVAL_MS && this.#buckets.size < this.#maxClients) return
    this.#lastSweep = now
    for (const [client, bucket] of this.#buckets) {
      this.#refill(bucket, now)
      if (bucket.tokens >= this.#burst) this.#buckets.delete(client)
    }
  }
}
