/**
 * Hybrid logical clock: timestamps never run backwards whatever the
 * physical clock does, move past every observed remote stamp, and borrow
 * the next millisecond when the counter is exhausted. Versions are totally
 * ordered with the origin as the tie-break, and their text form round-trips.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { HybridClock, compareVersions, formatVersion, parseVersion, versionCounter } from '../../src/store/hlc.ts'
import { prng, randInt, shuffled } from './helpers.ts'

type Stamp = { wall: number, counter: number }
const MAX_COUNTER = 0xffffffff

/** Strictly increasing in (wall, counter). */
function after (a: Stamp, b: Stamp): boolean {
  return a.wall > b.wall || (a.wall === b.wall && a.counter > b.counter)
}

test('tick follows the physical clock when it moves forward, counter back to 0', () => {
  let now = 1000
  const hlc = new HybridClock(() => now)
  assert.equal(hlc.tick(), { wall: 1000, counter: 0 })
  now = 1005
  assert.equal(hlc.tick(), { wall: 1005, counter: 0 })
  now = 2000
  assert.equal(hlc.tick(), { wall: 2000, counter: 0 })
})

test('a clock that stands still: the counter orders writes within the ms', () => {
  const hlc = new HybridClock(() => 5000)
  const stamps = Array.from({ length: 100 }, () => hlc.tick())
  stamps.forEach((s, i) => assert.equal(s, { wall: 5000, counter: i }))
})

test('a clock that goes backwards: stamps keep increasing, wall never decreases', () => {
  let now = 10_000
  const hlc = new HybridClock(() => now)
  const first = hlc.tick()
  now = 9_000 // NTP step back
  const second = hlc.tick()
  assert.equal(second, { wall: 10_000, counter: 1 })
  now = 1
  const third = hlc.tick()
  assert.ok(after(third, second))
  assert.ok(after(second, first))
  now = 10_001 // physical time catches up: back on the physical clock
  assert.equal(hlc.tick(), { wall: 10_001, counter: 0 })
})

test('monotonic under a randomly jittering clock (seeded)', () => {
  const rand = prng(7)
  let now = 1_700_000_000_000
  const hlc = new HybridClock(() => now)
  let prev = hlc.tick()
  for (let i = 0; i < 20_000; i++) {
    now += randInt(rand, 7) - 3 // forwards, still, backwards
    const s = hlc.tick()
    assert.ok(after(s, prev), `tick ${i}: ${JSON.stringify(s)} after ${JSON.stringify(prev)}`)
    assert.ok(s.wall >= now, 'never behind the physical clock')
    prev = s
  }
})

test('observe moves the clock past a remote stamp ahead of it', () => {
  const hlc = new HybridClock(() => 1000)
  hlc.tick()
  hlc.observe(1500, 7)
  const s = hlc.tick()
  assert.equal(s, { wall: 1500, counter: 8 })
  assert.ok(compareVersions(s.wall, s.counter, 'A', 1500, 7, 'Z') > 0, 'the next local write wins over the observed one, whatever the origins')
})

test('observe of the same ms with a higher counter moves past it too', () => {
  const hlc = new HybridClock(() => 1000)
  hlc.tick() // 1000.0
  hlc.observe(1000, 41)
  assert.equal(hlc.tick(), { wall: 1000, counter: 42 })
})

test('observe of an older stamp changes nothing', () => {
  let now = 2000
  const hlc = new HybridClock(() => now)
  hlc.tick() // 2000.0
  hlc.tick() // 2000.1
  hlc.observe(1999, 500)
  hlc.observe(2000, 1)
  assert.equal(hlc.tick(), { wall: 2000, counter: 2 })
  now = 2001
  assert.equal(hlc.tick(), { wall: 2001, counter: 0 })
})

test('a node whose clock lags still writes after what it observed', () => {
  // Node B's clock is 10 s behind A's; B sees A's write, then writes.
  const a = new HybridClock(() => 100_000)
  const b = new HybridClock(() => 90_000)
  const wa = a.tick()
  b.observe(wa.wall, wa.counter)
  const wb = b.tick()
  assert.ok(compareVersions(wb.wall, wb.counter, 'B', wa.wall, wa.counter, 'A') > 0)
})

test('counter overflow borrows the next millisecond', () => {
  const hlc = new HybridClock(() => 1000)
  hlc.observe(1000, MAX_COUNTER)
  assert.equal(hlc.tick(), { wall: 1001, counter: 0 })
  // The physical clock is now behind the borrowed ms: the counter carries on.
  assert.equal(hlc.tick(), { wall: 1001, counter: 1 })
})

test('counter overflow reached by ticking: the last counter is MAX, then the next ms', () => {
  const hlc = new HybridClock(() => 1000)
  hlc.observe(1000, MAX_COUNTER - 2)
  assert.equal(hlc.tick(), { wall: 1000, counter: MAX_COUNTER - 1 })
  assert.equal(hlc.tick(), { wall: 1000, counter: MAX_COUNTER })
  assert.equal(hlc.tick(), { wall: 1001, counter: 0 })
})

test('compareVersions: wall first, then counter, then origin', () => {
  assert.is(compareVersions(1, 9, 'Z', 2, 0, 'A'), -1)
  assert.is(compareVersions(2, 0, 'A', 1, 9, 'Z'), 1)
  assert.is(compareVersions(5, 1, 'Z', 5, 2, 'A'), -1)
  assert.is(compareVersions(5, 2, 'A', 5, 1, 'Z'), 1)
  assert.is(compareVersions(5, 2, 'A', 5, 2, 'B'), -1)
  assert.is(compareVersions(5, 2, 'B', 5, 2, 'A'), 1)
  assert.is(compareVersions(5, 2, 'peer', 5, 2, 'peer'), 0)
})

test('compareVersions: origin tie-break is plain code-unit order (the same on every node)', () => {
  assert.is(compareVersions(1, 0, '12D3KooWA', 1, 0, '12D3KooWa'), -1) // 'A' < 'a'
  assert.is(compareVersions(1, 0, 'abc', 1, 0, 'abcd'), -1) // a prefix sorts first
  assert.is(compareVersions(1, 0, '', 1, 0, 'a'), -1)
})

test('compareVersions is a total order: antisymmetric, transitive, sorting agrees whatever the input order', () => {
  const rand = prng(11)
  const origins = ['12D3KooWAlpha', '12D3KooWBeta', '12D3KooWbeta', 'Qm', 'Qmz']
  const versions = Array.from({ length: 300 }, () => ({
    wall: 1000 + randInt(rand, 4),
    counter: randInt(rand, 3),
    origin: origins[randInt(rand, origins.length)]
  }))
  const cmp = (a: typeof versions[0], b: typeof versions[0]): number => compareVersions(a.wall, a.counter, a.origin, b.wall, b.counter, b.origin)
  for (let i = 0; i < 2000; i++) {
    const a = versions[randInt(rand, versions.length)]
    const b = versions[randInt(rand, versions.length)]
    const c = versions[randInt(rand, versions.length)]
    assert.is(Math.sign(cmp(a, b)), -Math.sign(cmp(b, a)), 'antisymmetric')
    assert.is(cmp(a, b) === 0, a.wall === b.wall && a.counter === b.counter && a.origin === b.origin, 'equal only when identical')
    if (cmp(a, b) <= 0 && cmp(b, c) <= 0) assert.ok(cmp(a, c) <= 0, 'transitive')
  }
  const key = (v: typeof versions[0]): string => `${v.wall}.${v.counter}.${v.origin}`
  const reference = [...versions].sort(cmp).map(key)
  for (let round = 0; round < 5; round++) {
    assert.equal(shuffled(versions, rand).sort(cmp).map(key), reference)
  }
})

test('formatVersion / parseVersion round trip', () => {
  const cases: Stamp[] = [
    { wall: 0, counter: 0 },
    { wall: 1_700_000_000_123, counter: 0 },
    { wall: 1_700_000_000_123, counter: 42 },
    { wall: 1, counter: MAX_COUNTER },
    { wall: Number.MAX_SAFE_INTEGER, counter: MAX_COUNTER }
  ]
  for (const c of cases) {
    const text = formatVersion(c.wall, c.counter)
    assert.equal(parseVersion(text), c, text)
  }
  assert.is(formatVersion(1_700_000_000_123, 42), '1700000000123.42')
})

test('parseVersion round trips what a clock produces', () => {
  let now = 1_700_000_000_000
  const hlc = new HybridClock(() => now)
  const rand = prng(3)
  for (let i = 0; i < 1000; i++) {
    now += randInt(rand, 3) - 1
    const s = hlc.tick()
    assert.equal(parseVersion(formatVersion(s.wall, s.counter)), s)
  }
})

test('parseVersion rejects malformed text with undefined', () => {
  const bad = [
    '', '1', '1.', '.1', '.', '1.2.3', '-1.0', '1.-1', '+1.0', 'a.b', '1.0 ', ' 1.0', '1.0\n',
    '1e3.0', '0x10.0', '1.5e1', '1,0', '1..0', '١.٠' /* Arabic-Indic digits */,
    '12345678901234567.0', // wall longer than 16 digits
    '1.12345678901', // counter longer than 10 digits
    '9007199254740992.0', // wall 2^53: not a safe integer
    '99999999999999999.0'
  ]
  for (const text of bad) assert.is(parseVersion(text), undefined, JSON.stringify(text))
})

test('versionCounter: the counter of what formatVersion writes, -1 for text that has none', () => {
  const rand = prng(11)
  for (let i = 0; i < 1000; i++) {
    const wall = 1_700_000_000_000 + randInt(rand, 1e9)
    const counter = i < 10 ? [0, 9, 10, 99999, MAX_COUNTER][i % 5] : randInt(rand, MAX_COUNTER + 1)
    assert.is(versionCounter(formatVersion(wall, counter)), counter)
  }
  for (const text of ['', '1', '1.', '.1', '.', '1.-1', '1.a', '1.0 ', '1.1e3', '1.4294967296', '1.12345678901', '1.٠']) {
    assert.is(versionCounter(text), -1, JSON.stringify(text))
  }
})

test.run()
