/** Small statistics and timing helpers shared by the suites. */

/** Sub-millisecond wall-clock time, epoch ms. Comparable across processes of one machine (after offset calibration). */
export function hrNow (): number {
  return performance.timeOrigin + performance.now()
}

/** Nearest-rank percentile (`p` in 0..100) of `values`; NaN when empty. */
export function percentile (values: ArrayLike<number>, p: number): number {
  const n = values.length
  if (n === 0) return NaN
  const sorted = Float64Array.from(values).sort()
  const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))
  return sorted[rank]
}

export function median (values: ArrayLike<number>): number {
  return percentile(values, 50)
}

export function max (values: ArrayLike<number>): number {
  let m = -Infinity
  for (let i = 0; i < values.length; i++) if (values[i] > m) m = values[i]
  return m
}

/** Resolves after the current I/O phase: lets timers, sockets and `setImmediate` work run. */
export function yieldToLoop (): Promise<void> {
  return new Promise(resolve => setImmediate(resolve))
}

export function sleep (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}

/** Deterministic pseudo-random generator (mulberry32), so runs shuffle and fill alike. */
export function rng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A permutation of 0..n-1. */
export function shuffledIndices (n: number, seed = 1): Uint32Array {
  const out = new Uint32Array(n)
  for (let i = 0; i < n; i++) out[i] = i
  const rand = rng(seed)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    const t = out[i]
    out[i] = out[j]
    out[j] = t
  }
  return out
}

/**
 * `n` distinct keys (numbers `start`..) of exactly `bytes` ASCII characters, as flat strings
 * (built from bytes, not by concatenation, which would leave cons strings
 * that cost more memory than real keys do).
 */
export function makeKeys (n: number, bytes: number, prefix = 'k', start = 0): string[] {
  const keys: string[] = new Array(n)
  const buf = Buffer.alloc(bytes, 0x30)
  buf.write(prefix, 0, 'latin1')
  for (let i = 0; i < n; i++) {
    let x = start + i
    for (let p = bytes - 1; p >= prefix.length; p--) {
      buf[p] = 0x30 + (x % 10)
      x = Math.floor(x / 10)
    }
    keys[i] = buf.toString('latin1')
  }
  return keys
}

/** A value of `bytes` bytes whose first bytes spell `seq` (so payloads differ). */
export function makeValue (bytes: number, seq = 0): Uint8Array {
  const value = new Uint8Array(bytes)
  value.fill(0x61)
  if (bytes >= 8) new DataView(value.buffer, value.byteOffset, value.byteLength).setFloat64(0, seq)
  return value
}

/**
 * Polls `condition` every `intervalMs` until it holds; rejects with `what`
 * at the deadline. Used instead of sleeping "long enough".
 */
export async function until (condition: () => boolean, what: string, timeoutMs: number, intervalMs = 1): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(intervalMs)
  }
}
