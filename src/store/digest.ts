/**
 * Hashes behind the sync summary. The key space is split into
 * `SYNC_BUCKETS` buckets by a hash of the key; each bucket's digest is the
 * XOR of a 64-bit hash (two 32-bit lanes) of every record's key and version.
 * XOR makes the digest incremental: adding or removing a record is O(1).
 * Two nodes holding the same versions of the same keys have equal digests,
 * so a sync round only moves the buckets whose digests differ.
 *
 * The hashes read UTF-16 code units, so every node computes the same values
 * for the same strings. They are not cryptographic: they detect differences
 * between honest replicas, not forgeries.
 */

/** Number of sync buckets (a power of two). 1024 × 8 bytes = an 8 KiB summary. */
export const SYNC_BUCKETS = 1024

/** FNV-1a over the string's code units, 32 bits, with a seed. */
export function hashString (s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * `hashString(s, 0)` and, from the same pass, the UTF-8 length of `s` as
 * `Buffer.byteLength` counts it (a surrogate pair 4 bytes, a lone surrogate
 * 3), left in `out.bytes`. The store hashes every key it touches and needs
 * its byte length for the byte budget: one loop instead of two.
 */
export function hashKeyUtf8 (s: string, out: { bytes: number }): number {
  let h = 0x811c9dc5
  let bytes = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    h ^= c
    h = Math.imul(h, 0x01000193)
    if (c < 0x80) continue
    if (c < 0x800) {
      bytes += 1
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // a pair: 4 bytes for two code units (the low one is hashed on the next turn)
      const low = s.charCodeAt(++i)
      h ^= low
      h = Math.imul(h, 0x01000193)
      bytes += 2
    } else {
      bytes += 2
    }
  }
  out.bytes = bytes
  return h >>> 0
}

/** Finaliser that spreads bits (murmur3 fmix32). */
export function mix32 (h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** Bucket of a key (from its first hash lane). */
export function bucketOf (keyHash: number): number {
  return mix32(keyHash) & (SYNC_BUCKETS - 1)
}

/**
 * One lane of a record's hash, from the key's hash, the version, the
 * origin's hash and the record's guard (`guardUntil`): two replicas of the
 * same version that guard for different times differ, so a round evens out
 * the guard too, before the shorter one lets the key go.
 */
export function recordLane (keyHash: number, wall: number, counter: number, originHash: number, guard: number, lane: number): number {
  let h = keyHash ^ Math.imul(lane + 1, 0x9e3779b9)
  h = mix32(h ^ (wall >>> 0))
  h = mix32(h ^ Math.floor(wall / 0x100000000))
  h = mix32(h ^ counter)
  h = mix32(h ^ originHash)
  if (guard === 0) return h
  h = mix32(h ^ (guard >>> 0))
  return mix32(h ^ Math.floor(guard / 0x100000000))
}
