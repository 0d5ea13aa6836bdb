/**
 * Heap cost of N entries, in a fresh process started with `--expose-gc`
 * (run by bench/suites/memory.ts):
 *
 *   node --expose-gc bench/workers/memory.ts store|map N
 *
 * Measures `heapUsed + arrayBuffers` after full collections, before and after
 * filling a `MemoryStore` (or a plain `Map<string, Uint8Array>`) with N
 * entries of 16-byte keys and 64-byte values, and reports the growth per
 * entry. Keys and values are created during the fill, so their own cost
 * (string and typed-array headers included) is part of the growth; the suite
 * subtracts the 80 payload bytes.
 */
import { MemoryStore } from '../../src/store/memory-store.ts'
import { childMain } from '../lib/child.ts'
import { makeKeys } from '../lib/stats.ts'

const ORIGIN = '12D3KooWBenchOriginPeerIdxxxxxxxxxxxxxxxxxxxxxxxxxxx'

function collect (): void {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  for (let i = 0; i < 3; i++) gc()
}

function used (): number {
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

function value (i: number): Uint8Array {
  const v = new Uint8Array(64)
  v.fill(0x61)
  v[0] = i & 0xff
  v[1] = (i >>> 8) & 0xff
  return v
}

childMain(async ([kind, count]) => {
  const n = Number(count)
  if (kind !== 'store' && kind !== 'map') throw new Error('usage: memory.ts store|map N')
  collect()
  const before = used()
  let holder: { size: number }
  if (kind === 'store') {
    const store = new MemoryStore({ clock: Date.now, maxEntries: n, maxBytes: Number.MAX_SAFE_INTEGER })
    const now = Date.now()
    // keys in batches: the key list itself must not stay alive and be counted
    for (let start = 0; start < n; start += 100_000) {
      const keys = makeKeys(Math.min(100_000, n - start), 16, 'k', start)
      for (let i = 0; i < keys.length; i++) {
        store.apply({ key: keys[i], value: value(start + i), expiresAt: now + 3_600_000, wall: now, counter: start + i, origin: ORIGIN, guardUntil: 0 })
      }
    }
    holder = store
  } else {
    const map = new Map<string, Uint8Array>()
    for (let start = 0; start < n; start += 100_000) {
      const keys = makeKeys(Math.min(100_000, n - start), 16, 'k', start)
      for (let i = 0; i < keys.length; i++) map.set(keys[i], value(start + i))
    }
    holder = map
  }
  collect()
  const after = used()
  if (holder.size !== n) throw new Error(`holds ${holder.size} entries, expected ${n}`)
  return { bytesPerEntry: (after - before) / n, entries: n }
})
