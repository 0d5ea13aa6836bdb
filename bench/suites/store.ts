/**
 * Figure 4: the local store alone. `MemoryStore` (with the real clock
 * injected, as a node does) against a plain `Map` (the floor: no TTL, no
 * versions) and `@isaacs/ttlcache` (a popular TTL cache), in the same run:
 *
 * - put: insert N new 16-byte keys with 64-byte values into an empty structure
 *   (the store takes a `StoreRecord`, built per put as the node does, with
 *   a version from the node's own `HybridClock` on a clock that moves 1 ms
 *   every 1,000 writes: the versions of a node writing 1,000 entries per
 *   millisecond, counters 0 to 999);
 * - get hit: look up every key, in a shuffled order, and only check that
 *   something came back;
 * - get hit, value read: the same, reading the first byte of each value, as
 *   any use of a value does (for a `Map` or the TTL cache that is a visit to
 *   the value's own object and bytes; for the store, to its log);
 * - get miss: look up N keys that are not there.
 *
 * The TTL cache is set to check age on reads (`checkAgeOnGet`), so that,
 * like the store, it never returns an expired value. It keeps the caller's
 * arrays, while the store copies every value (so that nothing a caller does
 * to its array later reaches the store or the network): a fourth structure,
 * the same TTL cache keeping a copy of each value (`value.slice()`), gives
 * the put a like-for-like baseline too, reported without a target. Each
 * structure runs in its own function (monomorphic call sites), rounds
 * alternate between the four (each after an event-loop turn and a full
 * collection, so that it starts with the previous round's structure gone),
 * and the median round is reported, each structure's range in the notes.
 */
import { TTLCache } from '@isaacs/ttlcache'
import { HybridClock } from '../../src/store/hlc.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { figure, formatNumber } from '../lib/figures.ts'
import { makeKeys, makeValue, median, shuffledIndices, yieldToLoop } from '../lib/stats.ts'
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
  /** Each put's version. */
  walls: Float64Array
  counters: Uint32Array
  order: Uint32Array
}

const OPS = ['put', 'get hit', 'get hit, value read', 'get miss'] as const
type Op = typeof OPS[number]

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
    store.apply({ key: d.keys[i], value: d.values[i], expiresAt: now + TTL_MS, wall: d.walls[i], counter: d.counters[i], origin: ORIGIN, guardUntil: 0 })
  }
  const put = performance.now() - t
  t = performance.now()
  for (let i = 0; i < n; i++) if (store.get(d.keys[d.order[i]]) !== undefined) sink++
  const hit = performance.now() - t
  t = performance.now()
  for (let i = 0; i < n; i++) {
    const entry = store.get(d.keys[d.order[i]])
    if (entry !== undefined) sink += entry.value[0]
  }
  const read = performance.now() - t
  t = performance.now()
  for (let i = 0; i < n; i++) if (store.get(d.missing[d.order[i]]) === undefined) sink++
  const miss = performance.now() - t
  return rates(n, put, hit, read, miss)
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
  for (let i = 0; i < n; i++) {
    const value = map.get(d.keys[d.order[i]])
    if (value !== undefined) sink += value[0]
  }
  const read = performance.now() - t
  t = performance.now()
  for (let i = 0; i < n; i++) if (map.get(d.missing[d.order[i]]) === undefined) sink++
  const miss = performance.now() - t
  return rates(n, put, hit, read, miss)
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
  for (let i = 0; i < n; i++) {
    const value = cache.get(d.keys[d.order[i]])
    if (value !== undefined) sink += value[0]
  }
  const read = performance.now() - t
  t = performance.now()
  for (let i = 0; i < n; i++) if (cache.get(d.missing[d.order[i]]) === undefined) sink++
  const miss = performance.now() - t
  cache.cancelTimer()
  return rates(n, put, hit, read, miss)
}

/** Put only: the TTL cache keeping a copy of each value, as the store does. */
function ttlCacheCopyRound (d: Data): number {
  const n = d.keys.length
  const cache = new TTLCache<string, Uint8Array>({ ttl: TTL_MS, checkAgeOnGet: true })
  const t = performance.now()
  for (let i = 0; i < n; i++) cache.set(d.keys[i], d.values[i].slice(), { ttl: TTL_MS })
  const put = performance.now() - t
  if (cache.get(d.keys[n - 1]) !== undefined) sink++
  cache.cancelTimer()
  return n / put * 1000
}

function rates (n: number, putMs: number, hitMs: number, readMs: number, missMs: number): Rates {
  const rate = (ms: number): number => n / ms * 1000
  return { put: rate(putMs), 'get hit': rate(hitMs), 'get hit, value read': rate(readMs), 'get miss': rate(missMs) }
}

/** Versions as a node stamps them, on a clock that moves 1 ms every `perMs` writes. */
function versions (n: number, perMs: number): { walls: Float64Array, counters: Uint32Array } {
  let ms = Date.now()
  let calls = 0
  const clock = new HybridClock(() => (calls++ % perMs === perMs - 1 ? ++ms : ms))
  const walls = new Float64Array(n)
  const counters = new Uint32Array(n)
  for (let i = 0; i < n; i++) {
    const v = clock.tick()
    walls[i] = v.wall
    counters[i] = v.counter
  }
  return { walls, counters }
}

/**
 * Lets the previous round's structure go before the next round starts: one
 * turn of the event loop, then a full collection. The turn matters: a store
 * drops its shared clock reading in a microtask, which holds on to the store
 * until it runs, and rounds that follow each other synchronously would keep
 * every earlier store (hundreds of MB) alive, for every later round of every
 * structure to mark in its collections.
 */
async function settle (): Promise<void> {
  await yieldToLoop()
  ;(globalThis as { gc?: () => void }).gc?.()
}

async function run ({ quick }: SuiteOptions): Promise<Figure[]> {
  const n = quick ? 50_000 : 1_000_000
  const rounds = quick ? 3 : 7
  progress(SUITE, `${n} keys, ${rounds} rounds`)
  const data: Data = {
    keys: makeKeys(n, 16, 'k'),
    missing: makeKeys(n, 16, 'm'),
    values: Array.from({ length: n }, (_, i) => makeValue(64, i)),
    ...versions(n, 1000),
    order: shuffledIndices(n, 7)
  }
  const results = { store: [] as Rates[], map: [] as Rates[], ttl: [] as Rates[], ttlCopy: [] as number[] }
  for (let r = 0; r < rounds; r++) {
    await settle()
    results.store.push(storeRound(data))
    await settle()
    results.map.push(mapRound(data))
    await settle()
    results.ttl.push(ttlCacheRound(data))
    await settle()
    results.ttlCopy.push(ttlCacheCopyRound(data))
  }
  if (sink === 42) progress(SUITE, '') // keeps `sink` observable
  const med = (list: Rates[], op: Op): number => median(list.map(r => r[op]))
  // The spread of the rounds, so that a run whose rounds of one structure ran slow can be told apart.
  const spread = (rates: number[]): string => `${formatNumber(Math.min(...rates))}-${formatNumber(Math.max(...rates))}`
  const roundsOf = (list: Rates[], op: Op): number[] => list.map(r => r[op])

  const figures: Figure[] = []
  const common = `${n} keys of 16 B, values of 64 B, versions of a node writing 1,000 entries per ms, median of ${rounds} rounds`
  const opNotes: Record<Op, string> = {
    put: common,
    'get hit': `${common}; the loop only checks that a value came back`,
    'get hit, value read': `${common}; the loop reads the first byte of every value it gets`,
    'get miss': common
  }
  for (const op of OPS) {
    const value = med(results.store, op)
    const mapRate = med(results.map, op)
    const ttlRate = med(results.ttl, op)
    const slug = op.replace(/[^a-z]+/g, '-')
    const notes = `${opNotes[op]}; rounds: store ${spread(roundsOf(results.store, op))}, Map ${spread(roundsOf(results.map, op))}, TTL cache ${spread(roundsOf(results.ttl, op))} ops/s`
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
    if (op === 'put') {
      figures.push(figure({
        id: 'store.put.vs-ttlcache-copy',
        suite: SUITE,
        label: 'MemoryStore put vs TTL cache keeping a copy',
        unit: 'ops/s',
        better: 'higher',
        value,
        baseline: { label: '@isaacs/ttlcache, value.slice()', value: median(results.ttlCopy) },
        notes: `${notes}, TTL cache keeping a copy ${spread(results.ttlCopy)} ops/s; like for like: the store keeps a copy of every value, this TTL cache too (a fresh array per value); no target`
      }))
    }
  }
  return figures
}

suiteMain(run)
