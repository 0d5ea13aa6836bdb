/**
 * MemoryStore, driven by an injected clock (`now`) with `expireDue()` called
 * by hand; two checks use real time (the expiry timer and its clamped delay).
 *
 * What it guarantees (see src/store/memory-store.ts):
 * - reads never return an expired value, even before the sweep;
 * - last writer wins on the HLC order, the same whatever the arrival order;
 * - deletes and expired overwrites leave a marker until every version they
 *   superseded has expired, so an older version can never come back;
 * - `maxEntries` / `maxBytes`: a write that would cross them changes nothing;
 * - `onExpire` once per expired value; counters and digests return to zero.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { setImmediate as nextTick } from 'node:timers/promises'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { INTERNED_OVERHEAD } from '../../src/store/interner.ts'
import { SYNC_BUCKETS, bucketOf, hashString } from '../../src/store/digest.ts'
import { MAX_TIMER_DELAY_MS } from '../../src/config.ts'
import { del, prng, put, randInt, shuffled, text } from './helpers.ts'
import { waitFor } from '../helpers/wait.ts'
import type { MemoryStoreInit, StoreRecord } from '../../src/store/memory-store.ts'

/** The injected clock every store in this file reads (epoch ms). Reset to 0 before each test. */
let now = 0
test.before.each(() => { now = 0 })

const DAY = 24 * 60 * 60 * 1000

function makeStore (init: Partial<MemoryStoreInit> = {}): { store: MemoryStore, expired: Array<[string, number]> } {
  const expired: Array<[string, number]> = []
  const store = new MemoryStore({
    clock: () => now,
    maxEntries: 10_000,
    maxBytes: 1 << 24,
    onExpire: (key, expiresAt) => { expired.push([key, expiresAt]) },
    ...init
  })
  return { store, expired }
}

/** A record with its value as text, for readable comparisons. */
function plain (rec: StoreRecord | undefined): unknown {
  return rec === undefined ? undefined : { ...rec, value: text(rec.value) ?? null }
}

/** Sweeps until nothing due remains (bounded). */
function sweep (store: MemoryStore): void {
  for (let i = 0; i < 10_000 && store.expireDue(); i++);
  assert.not.ok(store.expireDue(), 'sweep finished')
}

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8')

/**
 * `n` distinct versions (a version names one write), drawn from few walls,
 * counters and origins so that ties on (wall, counter) are common.
 */
function uniqueVersions (rand: () => number, n: number, walls: number, counters: number, origins: string[]): Array<{ wall: number, counter: number, origin: string }> {
  const all = []
  for (let w = 0; w < walls; w++) for (let c = 0; c < counters; c++) for (const origin of origins) all.push({ wall: 1000 + w, counter: c, origin })
  assert.ok(all.length >= n)
  return shuffled(all, rand).slice(0, n)
}

// --- reads -------------------------------------------------------------------

test('put then get/has: the entry as the API shows it', () => {
  const { store } = makeStore()
  const r = store.apply(put('greeting', 'hello', { wall: 1000, counter: 3, origin: 'peerA', expiresAt: 5000, contentType: 'text/plain' }))
  assert.equal(r, { status: 'applied', hadValue: false })
  const e = store.get('greeting')
  assert.ok(e !== undefined)
  assert.equal({ ...e, value: text(e.value) }, {
    key: 'greeting',
    value: 'hello',
    expiresAt: 5000,
    createdAt: 1000,
    version: '1000.3',
    origin: 'peerA',
    contentType: 'text/plain'
  })
  assert.ok(store.has('greeting'))
  assert.is(store.size, 1)
  assert.is(store.bytes, utf8('greeting') + 5)
  assert.is(store.markerCount, 0)
})

test('missing keys: get undefined, has false, record undefined', () => {
  const { store } = makeStore()
  store.apply(put('a', '1'))
  assert.is(store.get('b'), undefined)
  assert.is(store.has('b'), false)
  assert.is(store.record('b'), undefined)
  assert.is(store.get('A'), undefined, 'keys are case-sensitive')
})

test('isCurrent: true for exactly the version get returns, false once it is overwritten, deleted or expired', () => {
  const { store } = makeStore()
  store.apply(put('k', 'v1', { wall: 1000, counter: 3, origin: 'peerA', expiresAt: 5000 }))
  assert.ok(store.isCurrent('k', 1000, 3, 'peerA'))
  // any other version, or another key, is not current
  assert.not.ok(store.isCurrent('k', 1000, 4, 'peerA'))
  assert.not.ok(store.isCurrent('k', 1001, 3, 'peerA'))
  assert.not.ok(store.isCurrent('k', 1000, 3, 'peerB'), 'same clock reading, another writer')
  assert.not.ok(store.isCurrent('other', 1000, 3, 'peerA'))

  store.apply(put('k', 'v2', { wall: 1000, counter: 4, origin: 'peerA', expiresAt: 5000 }))
  assert.not.ok(store.isCurrent('k', 1000, 3, 'peerA'), 'overwritten')
  assert.ok(store.isCurrent('k', 1000, 4, 'peerA'))

  now = 4999
  assert.ok(store.isCurrent('k', 1000, 4, 'peerA'))
  now = 5000
  assert.not.ok(store.isCurrent('k', 1000, 4, 'peerA'), 'expired, even before the sweep')

  now = 0
  store.apply(put('d', 'v', { wall: 1000, counter: 0, origin: 'peerA', expiresAt: 5000 }))
  store.apply(del('d', { wall: 1001, counter: 0, origin: 'peerA', expiresAt: 5000 }))
  assert.not.ok(store.isCurrent('d', 1000, 0, 'peerA'), 'deleted')
  assert.not.ok(store.isCurrent('d', 1001, 0, 'peerA'), 'a marker is no value')
})

test('an entry without content type has contentType undefined', () => {
  const { store } = makeStore()
  store.apply(put('k', 'v'))
  assert.is(store.get('k')?.contentType, undefined)
  assert.is(store.record('k')?.contentType, undefined)
})

test('keys(prefix): sorted, filtered, expired and deleted keys left out', () => {
  const { store } = makeStore()
  for (const k of ['user:2', 'user:10', 'user:1', 'session:x', 'usr', 'user:ü', 'user:Z']) store.apply(put(k, 'v'))
  store.apply(put('user:short', 'v', { expiresAt: 50 }))
  store.apply(put('user:gone', 'v'))
  store.apply(del('user:gone', { wall: 2000 }))
  assert.equal(store.keys(), ['session:x', 'user:1', 'user:10', 'user:2', 'user:Z', 'user:short', 'user:ü', 'usr'])
  assert.equal(store.keys('user:'), ['user:1', 'user:10', 'user:2', 'user:Z', 'user:short', 'user:ü'])
  assert.equal(store.keys('user:1'), ['user:1', 'user:10'])
  assert.equal(store.keys('nope'), [])
  now = 50 // user:short is due, not swept yet
  assert.equal(store.keys('user:'), ['user:1', 'user:10', 'user:2', 'user:Z', 'user:ü'])
})

test('keys(prefix, after, limit): pages of a listing, joined, are the listing', () => {
  const { store } = makeStore()
  const rand = prng(7)
  const keys = new Set<string>()
  // ASCII, Latin-1, BMP and astral characters: code-unit order puts \u{1F600} (a surrogate pair) before \uFFFD
  const alphabet = ['a', 'b', 'Z', '0', ':', 'é', 'ü', '\uFFFD', '\u{1F600}', '中']
  while (keys.size < 500) keys.add(Array.from({ length: 1 + randInt(rand, 6) }, () => alphabet[randInt(rand, alphabet.length)]).join(''))
  for (const k of shuffled([...keys], rand)) store.apply(put(k, 'v'))
  store.apply(put('a-gone', 'v', { expiresAt: 50 }))
  now = 50
  const all = store.keys()
  assert.equal(all, [...keys].sort())
  for (const limit of [1, 7, 100, 499, 500, 501]) {
    const joined: string[] = []
    let after: string | undefined
    for (;;) {
      const page = store.keys('', after, limit)
      assert.ok(page.length <= limit)
      joined.push(...page)
      if (page.length < limit) break
      after = page[page.length - 1]
    }
    assert.equal(joined, all, `pages of ${limit}`)
  }
  const withA = all.filter(k => k.startsWith('a'))
  assert.equal(store.keys('a', undefined, 3), withA.slice(0, 3))
  assert.equal(store.keys('a', withA[2], 1000), withA.slice(3))
  assert.equal(store.keys('', '\u{10FFFF}'), all.filter(k => k > '\u{10FFFF}'), 'after a key that is not stored')
  assert.equal(store.keys('', undefined, 0), [])
})

test('no expired value is ever returned, even before the sweep', () => {
  const { store, expired } = makeStore()
  store.apply(put('k', 'v', { expiresAt: 1000 }))
  now = 999
  assert.ok(store.get('k') !== undefined, 'alive 1 ms before')
  assert.ok(store.has('k'))
  now = 1000 // expiresAt is exclusive: at expiresAt the value is gone
  assert.is(store.get('k'), undefined)
  assert.is(store.has('k'), false)
  assert.equal(store.keys(), [])
  assert.equal([...store.records()], [])
  assert.is(store.size, 1, 'still counted until the sweep')
  assert.equal(expired, [], 'nothing swept yet')
  now = 1_000_000
  assert.is(store.get('k'), undefined)
  assert.not.ok(store.expireDue())
  assert.equal(expired, [['k', 1000]])
  assert.is(store.size, 0)
})

test('records(): live values and markers, optionally only the wanted buckets', () => {
  const { store } = makeStore()
  const keys = Array.from({ length: 200 }, (_, i) => `key-${i}`)
  for (const k of keys) store.apply(put(k, 'v'))
  store.apply(del('key-0', { wall: 2000 }))
  const all = [...store.records()]
  assert.is(all.length, 200)
  assert.is(all.find(r => r.key === 'key-0')?.value, null, 'the marker is included')
  const wanted = new Uint8Array(SYNC_BUCKETS)
  const target = bucketOf(hashString('key-7', 0))
  wanted[target] = 1
  const some = [...store.records(wanted)].map(r => r.key).sort()
  const expected = keys.filter(k => bucketOf(hashString(k, 0)) === target).sort()
  assert.ok(some.includes('key-7'))
  assert.equal(some, expected)
})

test('records(wanted, pauseEvery): the same records, with a pause after every pauseEvery slots looked at', () => {
  const { store } = makeStore()
  for (let i = 0; i < 1000; i++) store.apply(put(`key-${i}`, 'v'))
  const wanted = new Uint8Array(SYNC_BUCKETS)
  wanted[bucketOf(hashString('key-7', 0))] = 1
  const items = [...store.records(wanted, 100)]
  assert.is(items.filter(r => r === undefined).length, 9, 'a pause after each 100 slots, 1,000 slots in all')
  assert.equal(items.filter(r => r !== undefined), [...store.records(wanted)])
})

test('records(wanted, pauseEvery): the clock is read again after each pause, so what expired during one is not sent as live', () => {
  const { store } = makeStore()
  for (let i = 0; i < 10; i++) store.apply(put(`key-${i}`, 'v', { expiresAt: 500 }))
  const seen: string[] = []
  for (const rec of store.records(undefined, 5)) {
    if (rec === undefined) { now = 600; continue } // the values expire during the pause
    seen.push(rec.key)
  }
  assert.is(seen.length, 5, `only the slots read before the pause: ${seen.join(', ')}`)
})

// --- last writer wins --------------------------------------------------------

test('LWW: a newer version wins (later wall, then higher counter, then higher origin)', () => {
  const { store } = makeStore()
  store.apply(put('k', 'v1', { wall: 1000, counter: 5, origin: 'B' }))
  assert.equal(store.apply(put('k', 'v2', { wall: 1001, counter: 0, origin: 'A' })), { status: 'applied', hadValue: true })
  assert.is(text(store.get('k')?.value), 'v2')
  assert.equal(store.apply(put('k', 'v3', { wall: 1001, counter: 1, origin: 'A' })), { status: 'applied', hadValue: true })
  assert.is(text(store.get('k')?.value), 'v3')
  assert.equal(store.apply(put('k', 'v4', { wall: 1001, counter: 1, origin: 'B' })), { status: 'applied', hadValue: true })
  assert.is(text(store.get('k')?.value), 'v4')
  assert.is(store.get('k')?.version, '1001.1')
  assert.is(store.get('k')?.origin, 'B')
  assert.is(store.size, 1)
  assert.is(store.bytes, 1 + 2)
})

test('LWW: older and equal versions are stale and change nothing', () => {
  const { store } = makeStore()
  store.apply(put('k', 'current', { wall: 2000, counter: 1, origin: 'M', contentType: 'text/plain' }))
  const before = plain(store.record('k'))
  const digests = Array.from(store.digests)
  for (const older of [
    put('k', 'old-wall', { wall: 1999, counter: 9, expiresAt: 500 }),
    put('k', 'old-counter', { wall: 2000, counter: 0, origin: 'Z', expiresAt: 500 }),
    put('k', 'old-origin', { wall: 2000, counter: 1, origin: 'L', expiresAt: 500 }),
    put('k', 'equal', { wall: 2000, counter: 1, origin: 'M' }),
    del('k', { wall: 1500, expiresAt: 500 })
  ]) {
    assert.equal(store.apply(older), { status: 'stale', hadValue: true }, text(older.value) ?? 'delete')
  }
  assert.is(text(store.get('k')?.value), 'current')
  assert.equal(plain(store.record('k')), { ...(before as object), guardUntil: 500 }, 'only the guard moved, to the older expiry')
  assert.not.equal(Array.from(store.digests), digests, 'the guard is part of the digest')
  const same = makeStore().store
  same.apply(put('k', 'current', { wall: 2000, counter: 1, origin: 'M', contentType: 'text/plain', guardUntil: 500 }))
  assert.equal(Array.from(store.digests), Array.from(same.digests), 'the digest of the same record arriving with that guard')
})

test('LWW converges: the same records in any arrival order give the same records and digests', () => {
  // Puts on a few keys with colliding clocks (ties broken by origin), with
  // overwrites that expire sooner and later than what they supersede.
  const rand = prng(2024)
  const records: StoreRecord[] = []
  const keys = ['a', 'b', 'c', 'd', 'ключ', '键']
  const versions = uniqueVersions(rand, 60, 8, 3, ['peerA', 'peerB', 'peerC'])
  for (let i = 0; i < 60; i++) {
    records.push(put(keys[randInt(rand, keys.length)], `v${i}`, {
      ...versions[i],
      expiresAt: 5000 + randInt(rand, 5000),
      contentType: rand() < 0.5 ? 'text/plain' : undefined
    }))
  }
  const orders = [records, [...records].reverse(), ...Array.from({ length: 6 }, () => shuffled(records, rand))]
  const stores = orders.map(order => {
    const { store } = makeStore()
    for (const r of order) store.apply(r)
    return store
  })
  const snapshot = (s: MemoryStore): unknown => ({
    records: keys.map(k => plain(s.record(k))),
    digests: Array.from(s.digests),
    keys: s.keys(),
    size: s.size,
    bytes: s.bytes,
    markers: s.markerCount,
    markerKeyBytes: s.markerKeyBytes
  })
  const reference = snapshot(stores[0])
  // The winner per key is the maximum version.
  for (const k of keys) {
    const mine = records.filter(r => r.key === k)
    if (mine.length === 0) continue
    const best = mine.reduce((a, b) => (a.wall - b.wall || a.counter - b.counter || (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0)) >= 0 ? a : b)
    assert.is(text(stores[0].get(k)?.value), text(best.value), `winner of ${k}`)
  }
  stores.forEach((s, i) => assert.equal(snapshot(s), reference, `order ${i}`))
  // And they still agree after the values expire (markers included).
  for (const t of [5500, 7000, 8500, 10_001]) {
    now = t
    for (const s of stores) sweep(s)
    const ref = snapshot(stores[0])
    stores.forEach((s, i) => assert.equal(snapshot(s), ref, `order ${i} at ${t}`))
  }
  assert.is(stores[0].size, 0)
  assert.is(stores[0].markerCount, 0)
  assert.is(stores[0].markerKeyBytes, 0)
})

test('LWW converges with deletes too (tombstones that outlive what they delete, as nodes make them)', () => {
  const rand = prng(77)
  const records: StoreRecord[] = []
  const keys = ['x', 'y', 'z']
  const versions = uniqueVersions(rand, 40, 8, 3, ['n1', 'n2'])
  for (let i = 0; i < 40; i++) {
    const over = versions[i]
    if (rand() < 0.3) records.push(del(keys[randInt(rand, keys.length)], { ...over, expiresAt: 9000, guardUntil: 9000 }))
    else records.push(put(keys[randInt(rand, keys.length)], `v${i}`, { ...over, expiresAt: 2000 + randInt(rand, 7000) }))
  }
  const stores = [records, [...records].reverse(), shuffled(records, rand), shuffled(records, rand)].map(order => {
    const { store } = makeStore()
    for (const r of order) store.apply(r)
    return store
  })
  const snapshot = (s: MemoryStore): unknown => ({ records: keys.map(k => plain(s.record(k))), digests: Array.from(s.digests), size: s.size, markers: s.markerCount })
  for (const t of [0, 3000, 6000, 9000]) {
    now = t
    for (const s of stores) sweep(s)
    const ref = snapshot(stores[0])
    stores.forEach((s, i) => assert.equal(snapshot(s), ref, `order ${i} at ${t}`))
  }
})

// --- deletes and markers -----------------------------------------------------

test('delete: a newer tombstone removes the value and leaves a marker', () => {
  const { store } = makeStore()
  store.apply(put('k', 'v', { wall: 1000, expiresAt: 5000 }))
  assert.equal(store.apply(del('k', { wall: 1001, origin: 'B', expiresAt: 5000 })), { status: 'applied', hadValue: true })
  assert.is(store.get('k'), undefined)
  assert.is(store.has('k'), false)
  assert.equal(store.keys(), [])
  assert.is(store.size, 0)
  assert.is(store.bytes, 0)
  assert.is(store.markerCount, 1)
  const marker = store.record('k')
  assert.equal(plain(marker), { key: 'k', value: null, expiresAt: 5000, wall: 1001, counter: 0, origin: 'B', contentType: undefined, guardUntil: 5000 })
  // The deleted version cannot come back, nor any older one.
  assert.equal(store.apply(put('k', 'v', { wall: 1000, expiresAt: 5000 })), { status: 'stale', hadValue: false })
  assert.equal(store.apply(put('k', 'older', { wall: 900 })), { status: 'stale', hadValue: false })
  assert.is(store.get('k'), undefined)
  // A newer write brings the key back.
  assert.equal(store.apply(put('k', 'again', { wall: 1002 })), { status: 'applied', hadValue: false })
  assert.is(text(store.get('k')?.value), 'again')
  assert.is(store.markerCount, 0)
  assert.is(store.size, 1)
})

test('delete of a key never seen keeps a marker until its expiresAt', () => {
  const { store } = makeStore()
  assert.equal(store.apply(del('k', { wall: 2000, expiresAt: 3000 })), { status: 'applied', hadValue: false })
  assert.is(store.markerCount, 1)
  assert.equal(store.apply(put('k', 'late', { wall: 1500, expiresAt: 2500 })), { status: 'stale', hadValue: false })
  now = 3000
  sweep(store)
  assert.is(store.markerCount, 0)
  assert.is(store.record('k'), undefined)
})

test('an older tombstone is stale: the value stays', () => {
  const { store } = makeStore()
  store.apply(put('k', 'v', { wall: 2000 }))
  assert.equal(store.apply(del('k', { wall: 1999 })), { status: 'stale', hadValue: true })
  assert.is(text(store.get('k')?.value), 'v')
  assert.is(store.markerCount, 0)
})

test('marker: an overwrite with a SHORTER TTL expires into a marker that guards until the older expiry', () => {
  const { store, expired } = makeStore()
  const v1 = put('k', 'long-lived', { wall: 1000, expiresAt: 10_000 })
  const v2 = put('k', 'short-lived', { wall: 2000, expiresAt: 3000, contentType: 'text/plain' })
  store.apply(v1)
  store.apply(v2)
  assert.is(store.record('k')?.guardUntil, 10_000, 'the superseded expiry is carried as guardUntil')
  now = 3000
  assert.is(store.get('k'), undefined, 'v2 is past its TTL')
  assert.not.ok(store.expireDue())
  assert.equal(expired, [['k', 3000]], 'v2 expired once')
  assert.is(store.size, 0)
  assert.is(store.bytes, 0)
  assert.is(store.markerCount, 1)
  const marker = store.record('k')
  assert.is(marker?.value, null)
  assert.is(marker?.expiresAt, 10_000, 'the marker lives until v1 would have expired')
  assert.is(marker?.wall, 2000, 'with v2 version')
  // v1 still lives on some partitioned node and comes back: refused.
  now = 5000
  assert.equal(store.apply(v1), { status: 'stale', hadValue: false })
  assert.is(store.get('k'), undefined, 'no resurrection')
  assert.equal([...store.records()].map(r => r.key), ['k'], 'the marker is still offered to peers')
  // At the marker horizon it vanishes, without an expire callback.
  now = 10_000
  assert.equal([...store.records()], [], 'a marker past its horizon is not offered')
  assert.not.ok(store.expireDue())
  assert.is(store.markerCount, 0)
  assert.is(store.record('k'), undefined)
  assert.equal(expired, [['k', 3000]], 'markers do not call onExpire')
  assert.ok(Array.from(store.digests).every(d => d === 0), 'digests empty again')
})

test('marker: an overwrite with a LONGER TTL needs no marker', () => {
  const { store, expired } = makeStore()
  store.apply(put('k', 'v1', { wall: 1000, expiresAt: 3000 }))
  store.apply(put('k', 'v2', { wall: 2000, expiresAt: 10_000 }))
  now = 3000
  sweep(store)
  assert.is(text(store.get('k')?.value), 'v2', 'v1 expiry does not touch v2')
  assert.equal(expired, [])
  now = 10_000
  sweep(store)
  assert.equal(expired, [['k', 10_000]])
  assert.is(store.markerCount, 0)
  assert.is(store.record('k'), undefined)
})

test('marker: a delete with a shorter horizon than the deleted value still guards until the value expiry', () => {
  const { store, expired } = makeStore()
  const v1 = put('k', 'v', { wall: 1000, expiresAt: 10_000 })
  store.apply(v1)
  store.apply(del('k', { wall: 2000, expiresAt: 2000 }))
  assert.is(store.markerCount, 1)
  assert.is(store.record('k')?.expiresAt, 10_000)
  now = 5000
  sweep(store)
  assert.equal(store.apply(v1), { status: 'stale', hadValue: false }, 'the deleted value cannot come back')
  assert.is(store.get('k'), undefined)
  now = 10_000
  sweep(store)
  assert.is(store.record('k'), undefined)
  assert.equal(expired, [], 'a deleted value does not expire')
})

test('marker: guardUntil received with a record is honoured (chains of overwrites across nodes)', () => {
  const { store } = makeStore()
  // A peer overwrote a version expiring at 50000 (which we never saw).
  store.apply(put('k', 'v', { wall: 2000, expiresAt: 3000, guardUntil: 50_000 }))
  assert.is(store.record('k')?.guardUntil, 50_000)
  now = 3000
  sweep(store)
  assert.is(store.record('k')?.expiresAt, 50_000)
  assert.equal(store.apply(put('k', 'ancient', { wall: 1000, expiresAt: 50_000 })), { status: 'stale', hadValue: false })
  now = 50_000
  sweep(store)
  assert.is(store.record('k'), undefined)
})

test('guardUntil is carried in records and grows with each superseded version', () => {
  const { store } = makeStore()
  store.apply(put('k', 'v1', { wall: 1000, expiresAt: 7000 }))
  store.apply(put('k', 'v2', { wall: 1001, expiresAt: 4000 }))
  assert.is(store.record('k')?.guardUntil, 7000)
  store.apply(put('k', 'v3', { wall: 1002, expiresAt: 9000 }))
  assert.is(store.record('k')?.guardUntil, 7000, 'max of superseded expiries (7000, 4000)')
  store.apply(put('k', 'v4', { wall: 1003, expiresAt: 2000 }))
  assert.is(store.record('k')?.guardUntil, 9000)
  // A stale arrival with a later expiry than the guard raises it.
  store.apply(put('k', 'v0', { wall: 999, expiresAt: 12_000 }))
  assert.is(store.record('k')?.guardUntil, 12_000)
  assert.is(text(store.get('k')?.value), 'v4')
})

test('a newer write that has already expired removes the older value: status expired, marker until the older expiry', () => {
  const { store, expired } = makeStore()
  store.apply(put('k', 'v1', { wall: 1000, expiresAt: 9000 }))
  now = 4000
  assert.equal(store.apply(put('k', 'v2', { wall: 2000, expiresAt: 3000 })), { status: 'expired', hadValue: true })
  assert.is(store.get('k'), undefined)
  assert.is(store.size, 0)
  assert.is(store.bytes, 0)
  assert.is(store.markerCount, 1)
  assert.equal(plain(store.record('k')), { key: 'k', value: null, expiresAt: 9000, wall: 2000, counter: 0, origin: 'A', contentType: undefined, guardUntil: 9000 })
  assert.equal(store.apply(put('k', 'v1', { wall: 1000, expiresAt: 9000 })), { status: 'stale', hadValue: false })
  assert.equal(expired, [])
})

test('an already expired write on an unknown key leaves nothing', () => {
  const { store } = makeStore()
  now = 5000
  assert.equal(store.apply(put('k', 'v', { expiresAt: 4000 })), { status: 'expired', hadValue: false })
  assert.equal(store.apply(del('j', { expiresAt: 5000 })), { status: 'applied', hadValue: false })
  assert.is(store.record('k'), undefined)
  assert.is(store.record('j'), undefined)
  assert.is(store.markerCount, 0)
  assert.is(store.size, 0)
})

test('maxMarkers: beyond it, tombstones for unknown keys are not kept', () => {
  const { store } = makeStore({ maxMarkers: 2 })
  store.apply(del('a'))
  store.apply(del('b'))
  assert.is(store.markerCount, 2)
  assert.equal(store.apply(del('c')), { status: 'applied', hadValue: false })
  assert.is(store.markerCount, 2)
  assert.is(store.record('c'), undefined)
  // A delete of a live key still removes the value, but with no room for
  // its marker the key is dropped whole: markers stay bounded (best effort).
  store.apply(put('d', 'v'))
  store.apply(del('d', { wall: 2000 }))
  assert.is(store.get('d'), undefined)
  assert.is(store.record('d'), undefined)
  assert.is(store.markerCount, 2)
  assert.is(store.size, 0)
})

test('maxMarkers bounds every path to a marker: deletes of live keys, expired overwrites, hostile guards', () => {
  const { store } = makeStore({ maxEntries: 10, maxMarkers: 10 })
  for (let i = 0; i < 100; i++) {
    store.apply(put(`live/${i}`, 'v'))
    store.apply(del(`live/${i}`, { wall: 2000 }))
    // A short-lived value claiming to guard something alive for a long time.
    store.apply(put(`guarded/${i}`, 'v', { expiresAt: 100, guardUntil: 9_000_000 }))
  }
  now = 200
  sweep(store)
  assert.ok(store.markerCount <= 10, `markers: ${store.markerCount}`)
})

test('maxMarkerBytes: markers keep at most that many bytes of keys, on every path to a marker', () => {
  const { store } = makeStore({ maxMarkerBytes: 10 })
  store.apply(del('aaaa')) // 4 bytes
  assert.is(store.markerKeyBytes, 4)
  store.apply(del('bbbbbbb')) // 7 more: over 10
  assert.is(store.record('bbbbbbb'), undefined)
  store.apply(put('cccccc', 'v')) // 6: room for exactly that
  assert.equal(store.apply(del('cccccc', { wall: 2000 })), { status: 'applied', hadValue: true })
  assert.is(store.record('cccccc')?.value, null, 'its marker kept')
  assert.is(store.markerKeyBytes, 10)
  // An expired overwrite with no room left: the key goes whole.
  store.apply(put('dd', 'v1', { expiresAt: 5_000 }))
  store.apply(put('dd', 'v2', { wall: 2000, expiresAt: 100 }))
  now = 200
  sweep(store)
  assert.is(store.record('dd'), undefined)
  assert.is(store.markerKeyBytes, 10)
  assert.equal(store.refuse(put('eeee', 'refused', { wall: 3000 })), { status: 'applied', hadValue: false })
  assert.is(store.record('eeee'), undefined, 'refusals too')
  // A marker that goes frees its bytes; a new one fits again. Multi-byte keys count in UTF-8.
  now = 10_000
  sweep(store)
  assert.is(store.markerKeyBytes, 0)
  store.apply(del('ключ', { expiresAt: 20_000 })) // 8 bytes
  assert.is(store.markerKeyBytes, 8)
  store.clear()
  assert.is(store.markerKeyBytes, 0)
})

test('an expire listener that writes the same key does not recurse, and last writer still wins', () => {
  let store!: MemoryStore
  let refreshed = 0
  ;({ store } = makeStore({
    onExpire: (key) => {
      refreshed++
      store.apply(put(key, 'refreshed', { wall: 3000, expiresAt: 50_000 }))
    }
  }))
  store.apply(put('k', 'v1', { expiresAt: 1000 }))
  now = 5000
  assert.is(store.apply(put('k', 'v2', { wall: 2000, expiresAt: 60_000 })).status, 'applied')
  assert.is(refreshed, 1)
  assert.is(text(store.get('k')?.value), 'refreshed', 'the newest version (wall 3000) wins')
})

test('overwrites of one key do not grow the expiry heap without bound', () => {
  const { store } = makeStore()
  for (let i = 0; i < 50_000; i++) store.apply(put('k', 'v', { wall: 1000 + i, expiresAt: 1_000_000 }))
  assert.ok((store as any).heap.size < 10_000, `heap items: ${(store as any).heap.size}`)
})

test('the same version with a longer guard extends the guard (no resurrection through equal versions)', () => {
  const { store } = makeStore()
  store.apply(put('k', 'v2', { wall: 2000, expiresAt: 100 }))
  store.apply(put('k', 'v2', { wall: 2000, expiresAt: 100, guardUntil: 5000 }))
  assert.is(store.record('k')?.guardUntil, 5000)
  now = 200
  sweep(store)
  assert.is(store.apply(put('k', 'v1', { wall: 1000, expiresAt: 5000 })).status, 'stale')
})

// --- limits ------------------------------------------------------------------

test('a slice checks its time budget often enough that slow expire listeners cannot stretch it far', () => {
  now = 1000
  let calls = 0
  const { store } = makeStore({
    onExpire: () => {
      calls++
      const until = performance.now() + 1 // a listener that takes 1 ms
      while (performance.now() < until);
    }
  })
  for (let i = 0; i < 200; i++) store.apply(put(`k${i}`, 'v', { expiresAt: 1500 }))
  now = 2000
  assert.ok(store.expireDue(4), 'work is left after one slice')
  assert.is(calls, 16, 'the slice ended at its first look at the time, 16 removals in')
  sweep(store)
  assert.is(calls, 200)
})

test('limits: expired entries not swept yet are swept before a write is refused', () => {
  now = 1000
  const { store, expired } = makeStore({ maxEntries: 3 })
  for (const k of ['a', 'b', 'c']) store.apply(put(k, 'v', { expiresAt: 1500 }))
  now = 2000 // all three expired; no sweep ran
  assert.is(store.size, 3)
  assert.is(store.checkCapacity('d', 1, 'A'), undefined, 'room, once the expired ones are gone')
  assert.equal(expired.map(([k]) => k).sort(), ['a', 'b', 'c'])
  for (const k of ['x', 'y', 'z']) store.apply(put(k, 'v', { expiresAt: 2500 }))
  now = 3000
  assert.equal(store.apply(put('w', 'v', { wall: 2000, expiresAt: 9000 })), { status: 'applied', hadValue: false })
  assert.equal(store.keys(), ['w'])
  assert.equal(store.apply(put('full', 'v', { wall: 2000, expiresAt: 9000 })).status, 'applied')
  assert.equal(store.apply(put('fuller', 'v', { wall: 2000, expiresAt: 9000 })).status, 'applied')
  assert.equal(store.apply(put('fullest', 'v', { wall: 2000, expiresAt: 9000 })).status, 'full', 'live entries still count')
})

test('limits: an expired overwrite swept into a marker makes room too', () => {
  now = 1000
  const { store } = makeStore({ maxEntries: 2 })
  store.apply(put('a', 'old', { expiresAt: 9000 }))
  store.apply(put('a', 'new', { wall: 2000, expiresAt: 1500 })) // guards the old version until 9000
  store.apply(put('b', 'v', { expiresAt: 9000 }))
  now = 2000
  assert.equal(store.apply(put('c', 'v', { wall: 3000, expiresAt: 9000 })), { status: 'applied', hadValue: false })
  assert.is(store.markerCount, 1, 'a stays a marker')
  assert.equal(store.keys(), ['b', 'c'])
})

test('records(): an expired value not swept yet that still guards goes out as the marker it becomes', () => {
  now = 1000
  const { store } = makeStore()
  store.apply(put('k', 'old', { expiresAt: 9000 }))
  store.apply(put('k', 'new', { wall: 2000, expiresAt: 3000 })) // guards the old version until 9000
  store.apply(put('plain', 'v', { expiresAt: 3000 }))
  now = 4000
  assert.equal([...store.records()].map(plain), [{ key: 'k', value: null, expiresAt: 9000, wall: 2000, counter: 0, origin: 'A', contentType: undefined, guardUntil: 9000 }])
  sweep(store)
  assert.equal([...store.records()].map(plain), [{ key: 'k', value: null, expiresAt: 9000, wall: 2000, counter: 0, origin: 'A', contentType: undefined, guardUntil: 9000 }], 'the same after the sweep')
})

test('maxEntries: a new key beyond it is full and nothing is lost; overwrites still fit', () => {
  const { store } = makeStore({ maxEntries: 3 })
  for (const k of ['a', 'b', 'c']) assert.is(store.apply(put(k, 'v')).status, 'applied')
  assert.is(store.checkCapacity('d', 1, 'A') !== undefined, true)
  assert.match(store.checkCapacity('d', 1, 'A') ?? '', 'maxEntries (3)')
  const digests = Array.from(store.digests)
  assert.equal(store.apply(put('d', 'v')), { status: 'full', hadValue: false })
  assert.equal(store.keys(), ['a', 'b', 'c'])
  assert.is(store.record('d'), undefined)
  assert.is(store.size, 3)
  assert.is(store.bytes, 6)
  assert.equal(Array.from(store.digests), digests, 'a refused write leaves no trace')
  // Overwriting an existing key does not add an entry.
  assert.is(store.checkCapacity('a', 5, 'A'), undefined)
  assert.is(store.apply(put('a', 'newer', { wall: 2000 })).status, 'applied')
  assert.is(text(store.get('a')?.value), 'newer')
  // A delete frees a place; deletes are never refused for capacity.
  assert.is(store.apply(del('b', { wall: 2000 })).status, 'applied')
  assert.is(store.checkCapacity('d', 1, 'A'), undefined)
  assert.is(store.apply(put('d', 'v')).status, 'applied')
  assert.equal(store.keys(), ['a', 'c', 'd'])
})

test('maxBytes counts UTF-8 bytes of keys and values; crossing it is full and changes nothing', () => {
  // And the origin, once: see the test of distinct origins and content types.
  const { store } = makeStore({ maxBytes: 20 + INTERNED_OVERHEAD + 'A'.length })
  assert.is(store.apply(put('é', '12345678')).status, 'applied') // 2 + 8
  assert.is(store.bytes, 10)
  assert.equal(store.apply(put('k2', '123456789')), { status: 'full', hadValue: false }) // 10 + 2 + 9 = 21
  assert.match(store.checkCapacity('k2', 9, 'A') ?? '', `maxBytes (${20 + INTERNED_OVERHEAD + 1} bytes)`)
  assert.is(store.get('k2'), undefined)
  assert.is(store.bytes, 10)
  assert.is(store.apply(put('k2', '12345678')).status, 'applied') // exactly 20
  assert.is(store.bytes, 20)
  // Overwrite: only the difference counts.
  assert.is(store.checkCapacity('é', 8, 'A'), undefined)
  assert.is(store.apply(put('é', 'abcdefgh', { wall: 2000 })).status, 'applied')
  assert.is(store.checkCapacity('é', 9, 'A') !== undefined, true)
  assert.equal(store.apply(put('é', 'abcdefghi', { wall: 3000 })), { status: 'full', hadValue: true })
  assert.is(text(store.get('é')?.value), 'abcdefgh', 'the refused overwrite lost nothing')
  assert.is(store.get('é')?.version, '2000.0')
  assert.is(store.apply(put('é', 'x', { wall: 3000 })).status, 'applied', 'a smaller overwrite fits')
  assert.is(store.bytes, 20 - 7)
})

test('distinct origins and content types count against maxBytes, once each; a marker keeps no content type', () => {
  const maxBytes = 50_000
  const { store } = makeStore({ maxBytes })
  // A peer sending every record with an origin and a content type of its own (each 200 characters).
  const unique = (i: number, c: string): string => `${i}`.padStart(200, c)
  let stored = 0
  for (let i = 0; i < 1000; i++) {
    const status = store.apply(put(`k${i}`, '', { origin: unique(i, 'o'), contentType: unique(i, 't') })).status
    if (status === 'applied') stored++
    else assert.is(status, 'full')
  }
  const each = 2 * (INTERNED_OVERHEAD + 200)
  assert.ok(stored > 0 && stored <= Math.floor(maxBytes / each), `${stored} stored`)
  assert.ok(store.bytes + store.internedBytes <= maxBytes)
  // The same origin and content type for many entries count once.
  const { store: shared } = makeStore({ maxBytes })
  for (let i = 0; i < 1000; i++) assert.is(shared.apply(put(`k${i}`, '', { origin: unique(0, 'o'), contentType: unique(0, 't') })).status, 'applied')
  assert.is(shared.internedBytes, each)
  // Deletes of their own origins (markers) are bounded by maxBytes too, and leave no content type.
  const { store: marked } = makeStore({ maxBytes })
  for (let i = 0; i < 1000; i++) marked.apply(put(`k${i}`, 'v'))
  for (let i = 0; i < 1000; i++) marked.apply(del(`k${i}`, { wall: 2000, origin: unique(i, 'o'), contentType: unique(i, 't') }))
  assert.ok(marked.internedBytes <= maxBytes, `${marked.internedBytes} interned`)
  assert.is(marked.size, 0)
  // Markers of one writer, then newer deletes over them, each with an origin of its own.
  const { store: over } = makeStore({ maxBytes })
  for (let i = 0; i < 1000; i++) over.apply(del(`k${i}`, { wall: 1000 }))
  assert.is(over.markerCount, 1000)
  for (let i = 0; i < 1000; i++) over.apply(del(`k${i}`, { wall: 3000, origin: unique(i, 'p') }))
  assert.ok(over.internedBytes <= maxBytes, `${over.internedBytes} interned after deletes over markers`)
})

test('a write at maxBytes fits once a due marker, whose writer alone held those bytes, is swept', () => {
  const origin = (c: string): number => INTERNED_OVERHEAD + c.length
  const { store } = makeStore({ maxBytes: origin('A') + origin('B') + 10 })
  now = 1000
  assert.is(store.apply(del('m', { wall: 1000, origin: 'B', expiresAt: 2000 })).status, 'applied')
  assert.is(store.internedBytes, origin('B'))
  now = 2500 // the marker is due, not swept yet
  assert.is(store.checkCapacity('k', 10, 'A'), undefined)
  assert.is(store.apply(put('k', 'x'.repeat(10), { wall: 2500, expiresAt: 9000 })).status, 'applied')
  assert.is(store.internedBytes, origin('A'))
})

test('checkCapacity agrees with apply (random sizes against both limits)', () => {
  const rand = prng(5)
  const maxBytes = 600
  const { store } = makeStore({ maxEntries: 8, maxBytes })
  // Writers and content types come and go: what a write adds or frees of them counts too.
  const origins = ['A', 'B', 'C', 'origin-'.repeat(10)]
  const types = [undefined, 'text/plain', 'application/json', 'x/'.repeat(40)]
  let wall = 1000
  for (let i = 0; i < 4000; i++) {
    const key = `k${randInt(rand, 12)}`
    const origin = origins[randInt(rand, origins.length)]
    if (rand() < 0.2) {
      store.apply(del(key, { wall: wall++, origin }))
    } else {
      const size = randInt(rand, 60)
      const contentType = types[randInt(rand, types.length)]
      const predicted = store.checkCapacity(key, size, origin, contentType)
      const { status } = store.apply(put(key, 'x'.repeat(size), { wall: wall++, origin, contentType }))
      assert.is(status === 'full', predicted !== undefined, `step ${i}: checkCapacity said ${String(predicted)}, apply said ${status}`)
      // A value is stored only within maxBytes, strings it brings included.
      if (status === 'applied') assert.ok(store.bytes + store.internedBytes <= maxBytes, `step ${i}: ${store.bytes} + ${store.internedBytes} bytes`)
    }
    assert.ok(store.size <= 8)
    // A marker's writer counts too, against maxBytes on its own (a delete does not wait for room among values).
    assert.ok(store.bytes <= maxBytes && store.internedBytes <= maxBytes, `step ${i}: ${store.bytes} and ${store.internedBytes} bytes`)
  }
})

// --- expiry ------------------------------------------------------------------

test('onExpire: once per expired live value, with its key and expiresAt', () => {
  const { store, expired } = makeStore()
  store.apply(put('a', 'v', { expiresAt: 100 }))
  store.apply(put('b', 'v', { expiresAt: 200 }))
  store.apply(put('c', 'v', { expiresAt: 200 }))
  store.apply(put('d', 'v', { expiresAt: 300 }))
  store.apply(put('gone', 'v', { expiresAt: 200 }))
  store.apply(del('gone', { wall: 2000, expiresAt: 200 }))
  now = 99
  assert.not.ok(store.expireDue())
  assert.equal(expired, [])
  now = 200
  assert.not.ok(store.expireDue())
  assert.equal(expired.map(e => e[0]).sort(), ['a', 'b', 'c'])
  assert.equal(expired.find(e => e[0] === 'a'), ['a', 100])
  assert.equal(expired.find(e => e[0] === 'b'), ['b', 200])
  assert.not.ok(store.expireDue())
  assert.is(expired.length, 3, 'sweeping again calls nothing twice')
  now = 1000
  assert.not.ok(store.expireDue())
  assert.equal(expired.map(e => e[0]).sort(), ['a', 'b', 'c', 'd'])
})

test('overwritten values do not call onExpire at their old expiry', () => {
  const { store, expired } = makeStore()
  store.apply(put('k', 'v1', { wall: 1000, expiresAt: 100 }))
  store.apply(put('k', 'v2', { wall: 1001, expiresAt: 500 }))
  now = 100
  store.expireDue()
  assert.equal(expired, [])
  now = 500
  store.expireDue()
  assert.equal(expired, [['k', 500]])
})

test('accounting returns to 0 after everything expires (random workload)', () => {
  const rand = prng(99)
  const { store, expired } = makeStore()
  const keys = Array.from({ length: 200 }, (_, i) => `key/${i}/${'é'.repeat(i % 3)}`)
  let wall = 1000
  let maxMarkers = 0
  for (let step = 0; step < 5000; step++) {
    now += randInt(rand, 3)
    const key = keys[randInt(rand, keys.length)]
    const r = rand()
    if (r < 0.6) store.apply(put(key, 'x'.repeat(randInt(rand, 40)), { wall: wall++, expiresAt: now + 1 + randInt(rand, 2000), contentType: rand() < 0.3 ? 'a/b' : undefined }))
    else if (r < 0.75) store.apply(del(key, { wall: wall++, expiresAt: now + randInt(rand, 2000) }))
    else if (r < 0.85) store.apply(put(key, 'stale', { wall: wall - 50, expiresAt: now + randInt(rand, 3000) }))
    else store.expireDue()
    if (step % 500 === 0) {
      sweep(store)
      const live = store.keys()
      assert.is(store.size, live.length, `size at step ${step}`)
      assert.is(store.bytes, live.reduce((n, k) => n + utf8(k) + store.get(k)!.value.length, 0), `bytes at step ${step}`)
      const markers = [...store.records()].filter(r => r.value === null).length
      assert.is(store.markerCount, markers, `markerCount at step ${step}`)
      maxMarkers = Math.max(maxMarkers, markers)
    }
  }
  assert.ok(expired.length > 100, `the workload exercised expiry (${expired.length} expired)`)
  assert.ok(maxMarkers > 0, 'the workload left markers')
  now += 1_000_000
  sweep(store)
  assert.is(store.size, 0)
  assert.is(store.bytes, 0)
  assert.is(store.markerCount, 0)
  assert.equal(store.keys(), [])
  assert.equal([...store.records()], [])
  assert.ok(Array.from(store.digests).every(d => d === 0), 'every digest back to 0')
  for (const k of keys) assert.is(store.record(k), undefined)
})

test('the expiry timer fires with real time, and rearms for a sooner entry', async () => {
  const fired: Array<[string, number, number]> = []
  let resolveFired!: () => void
  const firedOnce = new Promise<void>(resolve => { resolveFired = resolve })
  const store = new MemoryStore({
    clock: Date.now,
    maxEntries: 100,
    maxBytes: 1 << 20,
    onExpire: (key, expiresAt) => { fired.push([key, expiresAt, Date.now()]); resolveFired() }
  })
  store.start()
  try {
    const start = Date.now()
    store.apply(put('far', 'v', { wall: start, expiresAt: start + 30 * DAY }))
    store.apply(put('soon', 'v', { wall: start, expiresAt: start + 50 }))
    let deadline: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      firedOnce,
      new Promise((_resolve, reject) => { deadline = setTimeout(() => reject(new Error('onExpire not called within 3000 ms')), 3000) })
    ]).finally(() => clearTimeout(deadline))
    assert.is(fired.length, 1)
    const [key, expiresAt, at] = fired[0]
    assert.is(key, 'soon')
    assert.is(expiresAt, start + 50)
    assert.ok(at >= expiresAt, 'not before its time')
    assert.is(store.has('soon'), false)
    assert.is(store.has('far'), true)
    assert.is(store.size, 1)
  } finally {
    store.stop()
  }
})

/** Runs `fn`, recording the delay of every setTimeout it arms. */
function captureTimeouts (fn: () => void): number[] {
  const delays: number[] = []
  const real = globalThis.setTimeout
  globalThis.setTimeout = ((handler: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) => {
    delays.push(delay ?? 0)
    return real(handler, delay, ...args)
  }) as typeof setTimeout
  try {
    fn()
  } finally {
    globalThis.setTimeout = real
  }
  return delays
}

test('the timer delay is clamped to 2^31-1 ms: an entry 30 days out does not fire at once', async () => {
  const store = new MemoryStore({ clock: Date.now, maxEntries: 100, maxBytes: 1 << 20 })
  const warnings: string[] = []
  const onWarning = (w: Error): void => { warnings.push(w.name) }
  process.on('warning', onWarning)
  let sweeps = 0
  let removed = 0
  const realExpireDue = store.expireDue.bind(store)
  store.expireDue = (budgetMs?: number) => {
    sweeps++
    const before = store.size + store.markerCount
    const more = realExpireDue(budgetMs)
    removed += before - (store.size + store.markerCount)
    return more
  }
  try {
    const t = Date.now()
    store.apply(put('far', 'v', { wall: t, expiresAt: t + 30 * DAY }))
    const delays = captureTimeouts(() => store.start())
    assert.is(delays.length, 1, 'one timer armed')
    assert.is(delays[0], MAX_TIMER_DELAY_MS, 'armed for the longest delay Node honours, not 30 days')
    // Node fires an overflowing delay after 1 ms: give it that chance, and more.
    await nextTick()
    await new Promise(resolve => setTimeout(resolve, 20))
    assert.is(removed, 0, 'nothing removed')
    assert.ok(sweeps === 0, `the timer did not fire (sweeps: ${sweeps})`)
    assert.ok(store.has('far'))
    assert.equal(warnings.filter(n => n === 'TimeoutOverflowWarning'), [])
  } finally {
    store.stop()
    process.off('warning', onWarning)
  }
})

test('an expire listener that writes during a sliced sweep leaves one expiry timer armed, not two', async () => {
  now = 1000
  const pending = new Set<unknown>()
  let onTimer: unknown
  const realSet = globalThis.setTimeout
  const realClear = globalThis.clearTimeout
  globalThis.setTimeout = ((handler: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) => {
    if (handler !== onTimer) return realSet(handler, delay, ...args)
    const timer = realSet((...a: unknown[]) => { pending.delete(timer); handler(...a) }, delay, ...args)
    pending.add(timer)
    return timer
  }) as typeof setTimeout
  globalThis.clearTimeout = ((timer: ReturnType<typeof setTimeout>) => { pending.delete(timer); realClear(timer) }) as typeof clearTimeout
  let writes = 0
  // Slices of no time: the sweep of 2,000 entries takes several, and the listener writes in the first.
  const { store } = makeStore({
    expirySliceMs: 0,
    onExpire: () => { if (writes++ === 0) store.apply(put('refreshed', 'v', { wall: 2000, expiresAt: 10 * DAY })) }
  })
  onTimer = (store as unknown as { onTimer: unknown }).onTimer
  try {
    for (let i = 0; i < 2000; i++) store.apply(put(`k${i}`, 'v', { expiresAt: 1500 }))
    now = 2000
    store.start()
    await waitFor(() => store.size === 1, { message: 'the sweep to finish' })
    await new Promise<void>(resolve => realSet(resolve, 20)) // any chain still running would arm its timer again meanwhile
    assert.ok(store.has('refreshed'))
    assert.is(pending.size, 1, 'one timer, for the entry left')
  } finally {
    store.stop()
    globalThis.setTimeout = realSet
    globalThis.clearTimeout = realClear
  }
})

test('a clock reading shared by back-to-back calls is dropped after an expire listener ran (it may have run long)', async () => {
  now = 100
  const { store } = makeStore({ clockReuse: 64, onExpire: () => { now = 200 } }) // the listener "takes" 80 ms
  store.apply(put('b', 'v', { expiresAt: 150 }))
  store.apply(put('a', 'v', { expiresAt: 110 }))
  assert.ok(store.has('a'))
  await nextTick() // a new synchronous run: the reading of 100 is gone
  now = 120
  assert.ok(store.has('b'), 'b alive at 120: this run shares the reading of 120')
  assert.ok(!store.has('a'), 'a expired at 110')
  store.apply(put('a', 'newer', { wall: 1100, expiresAt: 10_000 })) // replaces the expired, unswept a: its listener runs
  assert.is(now, 200)
  assert.is(store.get('b'), undefined, 'b expired at 150: the next call reads the clock again')
})

test('a stopped store arms no timer; start() arms one for the soonest expiry', () => {
  now = 1000
  const { store } = makeStore()
  assert.equal(captureTimeouts(() => store.apply(put('k', 'v', { expiresAt: 1500 }))), [], 'not started: no timer')
  const delays = captureTimeouts(() => store.start())
  try {
    assert.equal(delays, [500])
    assert.equal(captureTimeouts(() => store.start()), [], 'start is idempotent')
    assert.equal(captureTimeouts(() => store.apply(put('later', 'v', { expiresAt: 1700 }))), [], 'a later expiry keeps the timer')
    assert.equal(captureTimeouts(() => store.apply(put('sooner', 'v', { expiresAt: 1200 }))), [200], 'a sooner expiry rearms it')
  } finally {
    store.stop()
  }
  assert.equal(captureTimeouts(() => store.apply(put('x', 'v', { expiresAt: 1100 }))), [], 'stopped again: no timer')
})

test('time slicing: 200k entries all due, expireDue(2) stops early and later calls finish', () => {
  const N = 200_000
  const seen = new Uint8Array(N)
  let calls = 0
  const store = new MemoryStore({
    clock: () => now,
    maxEntries: N,
    maxBytes: 1 << 30,
    onExpire: (key) => { seen[Number(key.slice(1))]++; calls++ }
  })
  const value = new Uint8Array(4)
  for (let i = 0; i < N; i++) {
    store.apply({ key: `k${i}`, value, expiresAt: 10 + (i % 1000), wall: 1, counter: 0, origin: 'A', guardUntil: 0 })
  }
  assert.is(store.size, N)
  now = 5000
  assert.is(store.get('k199999'), undefined, 'due entries are invisible before their sweep')
  assert.is(store.expireDue(2), true, 'more remains after a 2 ms slice')
  assert.ok(calls > 0 && calls < N, `the first slice removed some but not all (${calls})`)
  assert.is(store.size, N - calls)
  let slices = 1
  while (store.expireDue(2)) {
    slices++
    assert.ok(slices < 100_000, 'bounded')
  }
  assert.is(calls, N)
  assert.ok(seen.every(n => n === 1), 'every key expired exactly once')
  assert.is(store.size, 0)
  assert.is(store.bytes, 0)
  assert.ok(Array.from(store.digests).every(d => d === 0))
})

// --- digests -----------------------------------------------------------------

test('digests: equal for the same content in a different insertion order; different after a change', () => {
  const rand = prng(8)
  const records = Array.from({ length: 500 }, (_, i) => put(`k${i}`, `v${i}`, { wall: 1000 + i, counter: i % 3, origin: i % 2 === 0 ? 'A' : 'B' }))
  records.push(del('deleted', { wall: 4000 }))
  const a = makeStore().store
  const b = makeStore().store
  for (const r of records) a.apply(r)
  for (const r of shuffled(records, rand)) b.apply(r)
  assert.equal(Array.from(a.digests), Array.from(b.digests))
  assert.ok(Array.from(a.digests).some(d => d !== 0))

  const base = Array.from(a.digests)
  const changed = (label: string): void => {
    assert.not.equal(Array.from(a.digests), base, `${label} changes the digests`)
  }
  a.apply(put('k7', 'newer', { wall: 9000 }))
  changed('an overwrite')
  b.apply(put('k7', 'newer', { wall: 9000 }))
  assert.equal(Array.from(a.digests), Array.from(b.digests), 'the same overwrite on both: equal again')

  const before = Array.from(a.digests)
  a.apply(del('k8', { wall: 9000 }))
  assert.not.equal(Array.from(a.digests), before, 'a delete changes the digests')

  const c = makeStore().store
  const d = makeStore().store
  c.apply(put('x', 'v', { wall: 1, origin: 'A' }))
  d.apply(put('x', 'v', { wall: 1, origin: 'B' }))
  assert.not.equal(Array.from(c.digests), Array.from(d.digests), 'the origin is part of a version')
  d.apply(put('x', 'v', { wall: 1, counter: 1, origin: 'A' }))
  assert.not.equal(Array.from(c.digests), Array.from(d.digests), 'the counter is part of a version')
})

test('digests: an expiry changes them; removing everything brings them back to 0', () => {
  const { store } = makeStore()
  store.apply(put('a', 'v', { expiresAt: 100 }))
  store.apply(put('b', 'v', { expiresAt: 200 }))
  const full = Array.from(store.digests)
  now = 100
  store.expireDue()
  assert.not.equal(Array.from(store.digests), full)
  const other = makeStore().store
  other.apply(put('b', 'v', { expiresAt: 200 }))
  assert.equal(Array.from(store.digests), Array.from(other.digests), 'same as a store that only ever held b')
  now = 200
  store.expireDue()
  assert.ok(Array.from(store.digests).every(d => d === 0))
})

test('clear() removes everything and the store stays usable', () => {
  const { store } = makeStore()
  for (let i = 0; i < 100; i++) store.apply(put(`k${i}`, 'v'))
  store.apply(del('m', { wall: 5000 }))
  store.clear()
  assert.is(store.size, 0)
  assert.is(store.bytes, 0)
  assert.is(store.markerCount, 0)
  assert.equal(store.keys(), [])
  assert.ok(Array.from(store.digests).every(d => d === 0))
  assert.is(store.apply(put('k1', 'again')).status, 'applied')
  assert.is(text(store.get('k1')?.value), 'again')
  assert.is(store.apply(put('m', 'back', { wall: 1 })).status, 'applied', 'the marker is gone too')
})

// --- regressions ------------------------------------------------------------

test('clear() after the store grew past its first 1024 slots must not throw', () => {
  const { store } = makeStore()
  for (let i = 0; i < 3000; i++) store.apply(put(`k${i}`, 'v'))
  store.clear() // once threw RangeError: it copied the grown columns into 1024-slot arrays
  assert.is(store.size, 0)
  assert.equal(store.keys(), [])
  for (let i = 0; i < 3000; i++) store.apply(put(`k${i}`, 'again'))
  assert.is(store.size, 3000)
  assert.is(text(store.get('k2999')?.value), 'again')
})

test('growing the store keeps every field of every entry exactly (counters up to 2^32-1, origins, content types, lengths)', () => {
  const { store } = makeStore()
  const n = 5000 // the store starts with 1024 slots: this grows it three times
  const expect = (i: number): StoreRecord => ({
    key: `k${i}`,
    value: new TextEncoder().encode('v'.repeat(i % 300)),
    expiresAt: 1_000_000 + i,
    wall: 1_700_000_000_000 + i,
    counter: 0xffffffff - i,
    origin: `origin-${i % 97}`,
    contentType: i % 3 === 0 ? undefined : `type/${i % 7}`,
    guardUntil: 0
  })
  for (let i = 0; i < n; i++) assert.is(store.apply(expect(i)).status, 'applied')
  for (let i = 0; i < n; i++) {
    const want = expect(i)
    const got = store.record(want.key)
    assert.equal(plain(got), plain(want), want.key)
    assert.is(store.get(want.key)?.version, `${want.wall}.${want.counter}`)
  }
})

test('an older version outliving a delete marker must extend it (no resurrection)', () => {
  // A tombstone arrives before the older write it deletes (gossip reordering,
  // or a partitioned writer). The older write outlives the marker's horizon.
  const { store } = makeStore()
  assert.is(store.apply(del('k', { wall: 2000, expiresAt: 100 })).status, 'applied')
  const older = put('k', 'deleted value', { wall: 1000, expiresAt: 1000 })
  assert.is(store.apply(older).status, 'stale')
  now = 200
  sweep(store)
  assert.is(store.apply(older).status, 'stale', 'the deleted value must not come back while it lives')
  assert.is(store.get('k'), undefined)
})

test('the guard does not depend on arrival order (the guardUntil of a stale record counts)', () => {
  // v1 superseded v0 (alive until 5000) on some node: v1.guardUntil = 5000.
  // v2 supersedes v1 and expires first. Wherever v2 lives, a marker must
  // guard until 5000 so v0 cannot come back.
  const v1 = put('k', 'v1', { wall: 1001, expiresAt: 500, guardUntil: 5000 })
  const v2 = put('k', 'v2', { wall: 1002, expiresAt: 300 })
  const inOrder = makeStore().store
  inOrder.apply(v1)
  inOrder.apply(v2)
  const reordered = makeStore().store
  reordered.apply(v2)
  reordered.apply(v1) // stale
  assert.equal(plain(reordered.record('k')), plain(inOrder.record('k')), 'same record whatever the arrival order')
  now = 1000
  sweep(reordered)
  assert.is(reordered.apply(put('k', 'v0', { wall: 1000, expiresAt: 5000 })).status, 'stale', 'v0 must stay superseded')
})

test('LWW converges with deletes and guards of any horizon, whatever the arrival order', () => {
  // The general form of the two cases above: tombstones and overwrites whose
  // horizons are shorter than what they supersede, and guards received from peers.
  const rand = prng(4242)
  const keys = ['p', 'q', 'r']
  const versions = uniqueVersions(rand, 80, 10, 3, ['n1', 'n2', 'n3'])
  const records = versions.map((v, i) => {
    const guardUntil = rand() < 0.5 ? 0 : randInt(rand, 9000)
    const key = keys[randInt(rand, keys.length)]
    return rand() < 0.3
      ? del(key, { ...v, expiresAt: 1 + randInt(rand, 8000), guardUntil })
      : put(key, `v${i}`, { ...v, expiresAt: 1 + randInt(rand, 8000), guardUntil })
  })
  const stores = [records, [...records].reverse(), ...Array.from({ length: 4 }, () => shuffled(records, rand))].map(order => {
    const { store } = makeStore()
    for (const r of order) store.apply(r)
    return store
  })
  const snapshot = (s: MemoryStore): unknown => ({ records: keys.map(k => plain(s.record(k))), digests: Array.from(s.digests), size: s.size, markers: s.markerCount })
  for (const t of [0, 1500, 3000, 4500, 6000, 7500, 9000]) {
    now = t
    for (const s of stores) sweep(s)
    const ref = snapshot(stores[0])
    stores.forEach((s, i) => assert.equal(snapshot(s), ref, `order ${i} at ${t}`))
  }
})

test('a marker left by an expired value carries no content type, wherever it expired', () => {
  const v1 = put('k', 'v1', { wall: 1000, expiresAt: 9000 })
  const v2 = put('k', 'v2', { wall: 2000, expiresAt: 3000, contentType: 'text/plain' })
  const here = makeStore().store // v2 expires here
  here.apply(v1)
  here.apply(v2)
  const there = makeStore().store // v2 arrives already expired
  there.apply(v1)
  now = 4000
  here.expireDue()
  there.apply(v2)
  assert.equal(plain(here.record('k')), plain(there.record('k')))
  assert.is(here.record('k')?.contentType, undefined)
})


test('a value that expired unswept still gets its expire event when a newer write replaces it', () => {
  const { store, expired } = makeStore()
  store.apply(put('k', 'old', { expiresAt: 100 }))
  now = 150 // expired, not swept
  assert.is(store.apply(put('k', 'new', { wall: 1100, expiresAt: 5000 })).status, 'applied')
  assert.equal(expired, [['k', 100]])
  assert.is(text(store.get('k')?.value), 'new')
})

test('clockReuse: back-to-back reads share a clock reading, at most N times, and never across a microtask', async () => {
  let reads = 0
  const { store } = makeStore({ clock: () => { reads++; return now }, clockReuse: 3 })
  store.apply(put('k', 'v', { expiresAt: 100 }))
  reads = 0
  for (let i = 0; i < 8; i++) store.get('k')
  assert.is(reads, 2, 'one reading per 4 reads (1 + 3 reuses)')
  now = 100 // expired, but the same synchronous run may still use the last reading once or twice
  await Promise.resolve()
  assert.is(store.get('k'), undefined, 'after a microtask the clock is read again')
  assert.is(store.has('k'), false)
})

test('values of every size round-trip, small ones in the log and large ones as they are; a value read never changes afterwards', () => {
  const { store } = makeStore()
  const sizes = [0, 1, 15, 16, 17, 64, 1023, 1024, 1025, 5000]
  for (const n of sizes) store.apply({ key: `v${n}`, value: Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 255), expiresAt: 10_000, wall: 1000, counter: n, origin: 'A', guardUntil: 0 })
  for (const n of sizes) {
    const value = store.get(`v${n}`)!.value
    assert.is(value.length, n)
    assert.ok(value.every((b, i) => b === ((i * 31 + n) & 255)), `bytes of v${n}`)
  }
  // A value read is a view of the store's memory, not a copy: it keeps its
  // bytes when the key is overwritten and deleted and its space is reused.
  const held = store.get('v64')!.value
  const bytes = held.slice()
  store.apply({ key: 'v64', value: new Uint8Array(64).fill(7), expiresAt: 10_000, wall: 1500, counter: 0, origin: 'A', guardUntil: 0 })
  assert.equal(store.get('v64')!.value, new Uint8Array(64).fill(7))
  for (let i = 0; i < 3000; i++) {
    store.apply({ key: `churn${i}`, value: new Uint8Array(64).fill(9), expiresAt: 10_000, wall: 1000, counter: i, origin: 'A', guardUntil: 0 })
    store.apply(del(`churn${i}`, { wall: 2000 }))
  }
  assert.equal(held, bytes, 'the held value still shows the bytes it was read with')
  assert.is(store.bytes, sizes.reduce((sum, n) => sum + `v${n}`.length + n, 0))
  for (const n of sizes) store.apply(del(`v${n}`, { wall: 2000 }))
  assert.is(store.bytes, 0)
})

test('values moved by the log when their slab empties out keep their keys and bytes (random deletes and overwrites)', () => {
  const { store } = makeStore({ maxEntries: 50_000 })
  const rand = prng(5)
  const model = new Map<string, Uint8Array>()
  const bytesOf = (i: number, n: number): Uint8Array => Uint8Array.from({ length: n }, (_, j) => (i * 7 + j) & 255)
  for (let i = 0; i < 20_000; i++) {
    const key = `k${Math.floor(rand() * 8000)}`
    const r = rand()
    if (r < 0.4 && model.has(key)) {
      store.apply(del(key, { wall: 1000 + i }))
      model.delete(key)
    } else {
      const value = bytesOf(i, 1 + Math.floor(rand() * 300))
      store.apply({ key, value, expiresAt: 1_000_000, wall: 1000 + i, counter: 0, origin: 'A', guardUntil: 0 })
      model.set(key, value)
    }
  }
  assert.is(store.size, model.size)
  for (const [key, value] of model) assert.equal(store.get(key)!.value, value, key)
})

test('the store keeps its own copy of every value: changing or dropping the array it was given changes nothing', () => {
  const { store } = makeStore()
  for (const n of [1, 64, 1024, 1025, 5000]) {
    // The value as a decoder hands it over: a view into a larger message, here a Buffer.
    const message = Buffer.alloc(n + 20, 0x5a)
    const value = message.subarray(10, 10 + n)
    store.apply({ key: `c${n}`, value, expiresAt: 10_000, wall: 1000, counter: 0, origin: 'A', guardUntil: 0 })
    message.fill(0)
    const held = store.get(`c${n}`)!.value
    assert.ok(held.length === n && held.every(b => b === 0x5a), `the ${n}-byte value kept its bytes`)
    assert.is.not(held.buffer, message.buffer, `the ${n}-byte value does not pin the message`)
    assert.equal(store.valueOf(`c${n}`), held)
  }
  assert.is(store.valueOf('absent'), undefined)
  assert.is(store.record('absent'), undefined)
})

test('refuse: a newer version this node cannot hold removes the older value, leaves a marker with the digest of that version, handed out as a notice while the value may live', () => {
  const { store: holder } = makeStore()
  const { store: refuser } = makeStore({ refusedHideMs: 500 })
  const v1 = put('k', 'v1', { wall: 1000, expiresAt: 5_000 })
  const v2 = put('k', 'v2: too large there', { wall: 2000, expiresAt: 8_000, guardUntil: 5_000 })
  for (const s of [holder, refuser]) s.apply(v1)
  holder.apply(v2)
  assert.equal(refuser.refuse(v2), { status: 'applied', hadValue: true })
  assert.is(refuser.get('k'), undefined, 'the older value is not served as current')
  assert.is(refuser.markerCount, 1)
  assert.ok(refuser.isRefused('k'))
  assert.equal([...refuser.digests], [...holder.digests], 'the same digests as a node that holds the value')
  assert.equal([...refuser.records()].map(r => [r.key, r.wall, r.value, r.notice]), [['k', 2000, null, true]], 'a notice, not a marker')
  assert.is(refuser.apply(v1).status, 'stale', 'the older version cannot come back')
  assert.is(refuser.refuse(v2).status, 'stale', 'the same version again')
  assert.equal([...refuser.digests], [...holder.digests], 'and the digests still agree')
  // Both forget the version at the same time: the digests stay equal.
  now = 7_999
  for (const s of [holder, refuser]) sweep(s)
  assert.equal([...refuser.digests], [...holder.digests])
  now = 8_000
  for (const s of [holder, refuser]) sweep(s)
  assert.is(refuser.markerCount, 0)
  assert.is(holder.size, 0)
  assert.not.ok(refuser.isRefused('k'))
  assert.ok(refuser.digests.every(x => x === 0) && holder.digests.every(x => x === 0), 'both empty')
})

test('refuse: what only the refusing node superseded reaches the nodes that hold the value through its notice; once the value is gone its marker is handed out like any', () => {
  const { store: holder } = makeStore() // never saw v0
  const { store: refuser } = makeStore({ refusedHideMs: 500 })
  const { store: other } = makeStore() // holds nothing of k
  const v0 = put('k', 'v0', { wall: 1000, origin: 'C', expiresAt: 40_000 })
  const v2 = put('k', 'v2: too large there', { wall: 2000, origin: 'B', expiresAt: 3_000 })
  refuser.apply(v0)
  holder.apply(v2)
  assert.equal(refuser.refuse(v2), { status: 'applied', hadValue: true })
  const [notice] = [...refuser.records()]
  assert.equal([notice.notice, notice.guardUntil], [true, 40_000], 'the notice carries the guard: v0 could live until 40,000')
  assert.ok(holder.takeNotice(notice), 'the holder of v2 takes the guard')
  assert.not.ok(holder.takeNotice(notice), 'once')
  assert.equal([...refuser.digests], [...holder.digests], 'the digests agree')
  assert.not.ok(other.takeNotice(notice), 'a node without that version takes nothing')
  assert.is(other.record('k'), undefined)
  assert.not.ok(holder.takeNotice({ ...notice, counter: 1 }), 'nor one with another version')
  now = 3_000
  for (const s of [holder, refuser]) sweep(s)
  assert.is(holder.record('k')?.value, null, 'the holder keeps a marker until 40,000')
  assert.is(holder.apply(v0).status, 'stale', 'so v0 cannot come back there')
  assert.is(refuser.apply(v0).status, 'stale', 'nor on the refusing node')
  assert.not.ok(refuser.isRefused('k'), 'no live value of it anywhere now')
  now = 3_500
  const handed = [...refuser.records()]
  assert.equal(handed.map(r => [r.key, r.wall, r.origin, r.value, r.expiresAt, r.notice]), [['k', 2000, 'B', null, 40_000, undefined]], 'a marker like any')
  for (const r of handed) other.apply(r)
  assert.is(other.apply(v0).status, 'stale', 'which guards a third node too')
  assert.equal([...refuser.digests], [...holder.digests])
  assert.equal([...other.digests], [...holder.digests])
})

test('refuse: an expire listener that writes the key meanwhile, under the same time and counter from another writer, keeps its value whole', () => {
  now = 1000
  let store: MemoryStore | undefined
  ;({ store } = makeStore({
    onExpire: (key) => { store!.apply(put(key, 'xy', { wall: 1100, counter: 0, origin: 'C', expiresAt: 6000 })) }
  }))
  store.apply(put('other', 'the value of another key', { expiresAt: 9000 }))
  store.apply(put('k', 'old', { expiresAt: 1500 }))
  now = 2000 // 'k' expired, not swept: the refusal's apply fires its expiry
  store.refuse(put('k', 'x'.repeat(100), { wall: 1100, counter: 0, origin: 'B', expiresAt: 5000 }))
  const entry = store.get('k')
  assert.is(entry?.origin, 'C')
  assert.is(text(entry?.value), 'xy')
  assert.is(store.bytes, 'other'.length + 'the value of another key'.length + 'k'.length + 2)
})

test('refuse: an older version than the one held changes nothing; a newer write replaces the marker, which is then handed out like any', () => {
  const { store } = makeStore()
  store.apply(put('k', 'v2', { wall: 2000 }))
  assert.equal(store.refuse(put('k', 'v1', { wall: 1000 })), { status: 'stale', hadValue: true })
  assert.is(text(store.get('k')?.value), 'v2')
  assert.equal(store.refuse(put('k', 'v3', { wall: 3000 })), { status: 'applied', hadValue: true })
  assert.equal([...store.records()].map(r => r.notice), [true])
  store.apply(del('k', { wall: 4000, expiresAt: 9_000 }))
  assert.equal([...store.records()].map(r => [r.key, r.wall, r.value]), [['k', 4000, null]], 'a delete\'s marker is handed out')
  assert.equal(store.refuse(put('other', 'x', { wall: 1000 })), { status: 'applied', hadValue: false }, 'a key never seen gets a marker too')
  assert.is(store.markerCount, 2)
  const { store: full } = makeStore({ maxMarkers: 0 })
  full.apply(put('k', 'v1'))
  assert.equal(full.refuse(put('k', 'v2', { wall: 2000 })), { status: 'applied', hadValue: true })
  assert.is(full.get('k'), undefined, 'with no room for markers the older value goes all the same')
  assert.is(full.markerCount, 0)
})

test.run()
