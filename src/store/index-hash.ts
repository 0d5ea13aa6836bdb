/**
 * The hash the store's key index probes by: HalfSipHash-1-3 (the 32-bit
 * SipHash that the Linux kernel keys its hash tables with) over the key's
 * UTF-16 code units, keyed with a secret drawn per process.
 *
 * Not the sync digest's FNV-1a (digest.ts): that one must give every node
 * the same value, so anyone can compute it, and keys colliding on it are
 * cheap to make (2^k of them with k birthday searches of about 2^16 tries).
 * Probing by it let one gossip message of 32,768 such keys (2.6 MB) put
 * them all in one probe run and hold a node's event loop for 6 s. A keyed
 * hash's collisions cannot be made without the key.
 */

function sipKey (): Uint32Array {
  return crypto.getRandomValues(new Uint32Array(2))
}

/** A keyed hash of strings; `indexHash` is the one with this process's secret key. */
export function keyedStringHash (key: Uint32Array = sipKey()): (s: string) => number {
  const k0 = key[0] | 0
  const k1 = key[1] | 0
  return (s: string): number => {
    let v0 = k0
    let v1 = k1
    let v2 = 0x6c796765 ^ k0
    let v3 = 0x74656462 ^ k1
    const n = s.length
    // One SipRound per 32-bit word (two code units; the last word holds the odd code unit, if
    // any, and the length, as SipHash ends with the length), then three more to finish.
    const words = (n >> 1) + 1
    for (let w = 0; w < words + 3; w++) {
      let m = 0
      if (w < words) {
        const i = 2 * w
        m = i + 1 < n ? s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16) : (i < n ? s.charCodeAt(i) : 0) | (n << 24)
        v3 ^= m
      } else if (w === words) {
        v2 ^= 0xff
      }
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16)
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16)
      v0 ^= m
    }
    return (v1 ^ v3) >>> 0
  }
}

/** The key index's hash, keyed with this process's secret. */
export const indexHash = keyedStringHash()
