/** Shared bits of the unit suites: a seeded PRNG and a record builder. */
import type { StoreRecord } from '../../src/store/memory-store.ts'

/** Deterministic PRNG (mulberry32): the same seed gives the same run, so failures reproduce. The benchmarks fill and shuffle with the same one. */
export { rng as prng } from '../../bench/lib/stats.ts'
import { rng } from '../../bench/lib/stats.ts'

/** Integer in [0, n). */
export function randInt (rand: () => number, n: number): number {
  return Math.floor(rand() * n)
}

/** Fisher-Yates shuffle of a copy. */
export function shuffled<T> (items: readonly T[], rand: () => number): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = randInt(rand, i + 1)
    const tmp = out[i]
    out[i] = out[j]
    out[j] = tmp
  }
  return out
}

const encoder = new TextEncoder()

/** A live write of `value` under `key` (wall 1000, counter 0, origin "A", expiring at 10000 unless overridden). */
export function put (key: string, value: string, over: Partial<StoreRecord> = {}): StoreRecord {
  return { key, value: encoder.encode(value), expiresAt: 10_000, wall: 1000, counter: 0, origin: 'A', guardUntil: 0, ...over }
}

/** A delete (tombstone) of `key` whose marker must live until `expiresAt`. */
export function del (key: string, over: Partial<StoreRecord> = {}): StoreRecord {
  return { key, value: null, expiresAt: 10_000, wall: 1000, counter: 0, origin: 'A', guardUntil: 0, ...over }
}

/** The text of a stored value. */
export function text (value: Uint8Array | null | undefined): string | undefined {
  return value == null ? undefined : new TextDecoder().decode(value)
}

/**
 * 2^k distinct keys with one and the same `hashString(key, 0)` (FNV-1a, the
 * sync digest's key hash): k blocks of 4 characters, each a pair found by a
 * birthday search from the hash state the blocks before it leave (Joux's
 * multicollision). Deterministic; k = 12 takes a fraction of a second.
 */
export function fnvCollidingKeys (k: number, prefix = 'c/'): string[] {
  const step = (h: number, s: string): number => {
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
    return h >>> 0
  }
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
  const rand = rng(k)
  let state = step(0x811c9dc5, prefix)
  const pairs: Array<[string, string]> = []
  while (pairs.length < k) {
    const seen = new Map<number, string>()
    for (;;) {
      let block = ''
      for (let i = 0; i < 4; i++) block += alphabet[Math.floor(rand() * alphabet.length)]
      const h = step(state, block)
      const other = seen.get(h)
      if (other !== undefined && other !== block) {
        pairs.push([other, block])
        state = h
        break
      }
      seen.set(h, block)
    }
  }
  let keys = [prefix]
  for (const [x, y] of pairs) keys = keys.flatMap(key => [key + x, key + y])
  return keys
}
