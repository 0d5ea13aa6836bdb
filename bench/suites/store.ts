/**
 * Figure 4: the local store alone. `MemoryStore` (with the real clock
 * injected, as a node does) against a plain `Map` (the floor: no TTL, no
 * versions) and `@isaacs/ttlcache` (a popular TTL cache), in the same run:
 *
 * - put: insert N new 16-byte keys with 64-byte values into an empty structure
 *   (the store takes a `StoreRecord`, built per put as the node does);
 * - get hit: look up every key, in a shuffled order;
 * - get miss: look up N keys that are not there.
 *
 * The TTL cache is set to check age on reads (`checkAgeOnGet`), so that,
 * like the store, it never returns an expired value. Each structure runs in
 * its own function (monomorphic call sites), rounds alternate between the
 * three, and the median round is reported.
 */
import { TTLCache } from '@isaacs/ttlcache'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { figure } from '../lib/figures.ts'
import { makeKeys, makeValue, median, shuffledIndices } from '../lib/stats.ts'
import { progress, suiteMain } from '../lib/suite.ts'
import type { Figure } from '../lib/figures.ts'
import type { SuiteOptions } from '../lib/suite.ts'

const SUITE = 'store'
const TTL_MS = 600_000
const ORIGIN = '12D3KooWBenchOriginPeerIdxxxxxxxxxxxxxxxxxxxxxxxxxxx'

interface Data {
  keys: string[]
  missing: string[]
  values: Uint8Array[]
  order: Uint32Array
}

type Op = 'put' | 'get hit' | 'get miss'

/** Ops/s of each op, for one structure. */
type Rates = Record<Op, number>

let sink = 0

function storeRound (d: Data): Rates {
  const n = d.keys.length
  const clock = Date.now
  // Configured as a node configures it with the default clock (readings shared by back-to-back calls).
  const store = new MemoryStore({ clock, maxEntries: n, maxBytes: Number.MAX_SAFE_INTEGER, clockReuse: 64 })
  const now = clock()
  let t = performance.now()
  for (let i = 0; i < n; i++) {
    store.apply({ key: d.keys[i], value: d.values[i], expiresAt: now + TTL_MS, wall: now, counter: i, origin: ORIGIN, guardUntil: 0 })
  }
  const put = performance.now() - t
  t = performance.now()
  for (let i = 0; i < n; i++) if (store.get(d.keys[d.order[i]]) !== undefined) sink++
  const hit = performance.now() - t
  t = performance.now()
  for (let i = 0; i < n; i++) if (store.get(d.missing[d.order[i]]) === undefined) sink++
  const miss = performance.now() - t
  return rates(n, put, hit, miss)
}

function mapRound (d: Data): Rates {
  const n = d.keys.length
  const map = new Map<string, Uint8Array>()
  let t = performance.now()
  for (let i = 0; i < n; i++) map.set(d.keys[i], d.values[i])
  const put = performance.now() - t
  t = performance.now()
  for (let i = 0; i < n; i++) if (map.get(d.keys[d.order[i]]) !== undefined) sink++
  const hit = performance.now() - t
  t = performance.now()
  for (let i = 0; i < n; i++) if (map.get(d.missing[d.order[i]]) === undefined) sink++
  const miss = performance.now() - t
  return rates(n, put, hit, miss)
}

function ttlCacheRound (d: Data): Rates {
  const n = d.keys.length
  const cache = new TTLCache<string, Uint8Array>({ ttl: TTL_MS, checkAgeOnGet: true })
  let t = performance.now()
  for (let i = 0; i < n; i++) cache.set(d.keys[i], d.values[i], { ttl: TTL_MS })
  const put = performance.now() - t
  t = performance.now()
  for (let i = 0; i < n; i++) if (cache.get(d.keys[d.order[i]]) !== undefined) sink++
  const hit = performance.now() - t
  t = performance.now()
  for (let i = 0; i < n; i++) if (cache.get(d.missing[d.order[i]]) === undefined) sink++
  const miss = performance.now() - t
  cache.cancelTimer()
  return rates(n, put, hit, miss)
}

function rates (n: number, putMs: number, hitMs: number, missMs: number): Rates {
  return { put: n / putMs * 1000, 'get hit': n / hitMs * 1000, 'get miss': n / missMs * 1000 }
}

function collect (): void {
  (globalThis as { gc?: () => void }).gc?.()
}

async function run ({ quick }: SuiteOptions): Promise<Figure[]> {
  const n = quick ? 50_000 : 1_000_000
  const rounds = quick ? 3 : 7
  progress(SUITE, `${n} keys, ${rounds} rounds`)
  const data: Data = {
    keys: makeKeys(n, 16, 'k'),
    missing: makeKeys(n, 16, 'm'),
    values: Array.from({ length: n }, (_, i) => makeValue(64, i)),
    order: shuffledIndices(n, 7)
  }
  const results = { store: [] as Rates[], map: [] as Rates[], ttl: [] as Rates[] }
  for (let r = 0; r < rounds; r++) {
    collect()
    results.store.push(storeRound(data))
    collect()
    results.map.push(mapRound(data))
    collect()
    results.ttl.push(ttlCacheRound(data))
  }
  if (sink === 42) progress(SUITE, '') // keeps `sink` observable
  const med = (list: Rates[], op: Op): number => median(list.map(r => r[op]))

  const figures: Figure[] = []
  const notes = `${n} keys of 16 B, values of 64 B, median of ${rounds} rounds`
  for (const op of ['put', 'get hit', 'get miss'] as const) {
    const value = med(results.store, op)
    const mapRate = med(results.map, op)
    const ttlRate = med(results.ttl, op)
    const slug = op.replace(' ', '-')
    figures.push(figure({
      id: `store.${slug}.vs-map`,
      suite: SUITE,
      label: `MemoryStore ${op} vs Map`,
      unit: 'ops/s',
      better: 'higher',
      value,
      baseline: { label: 'Map', value: mapRate },
      ratioTarget: op === 'put' ? undefined : 0.5,
      ratioTargetText: 'Map',
      notes
    }))
    figures.push(figure({
      id: `store.${slug}.vs-ttlcache`,
      suite: SUITE,
      label: `MemoryStore ${op} vs TTL cache`,
      unit: 'ops/s',
      better: 'higher',
      value,
      baseline: { label: '@isaacs/ttlcache', value: ttlRate },
      ratioTarget: 1,
      ratioTargetText: '@isaacs/ttlcache',
      notes
    }))
  }
  return figures
}

suiteMain(run)
