/**
 * RoundVersions: what a sync initiator remembers of the records it received
 * in a round (so as not to send them back): versions only, per key, bounded.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RoundVersions, NOTE_BYTES } from '../../src/replication/round-versions.ts'

type Noted = { key: string, wall: number, counter: number, origin: string, expiresAt: number, guardUntil: number }
const v = (key: string, wall: number, counter = 0, origin = 'A', expiresAt = 1000, guardUntil = 0): Noted => ({ key, wall, counter, origin, expiresAt, guardUntil })

test('has: exactly the version noted for the key, no other', () => {
  const seen = new RoundVersions(10)
  seen.add(v('k', 5, 1, 'A'))
  assert.ok(seen.has(v('k', 5, 1, 'A')))
  assert.not.ok(seen.has(v('k', 6, 1, 'A')), 'another wall')
  assert.not.ok(seen.has(v('k', 5, 2, 'A')), 'another counter')
  assert.not.ok(seen.has(v('k', 5, 1, 'B')), 'another origin')
  assert.not.ok(seen.has(v('other', 5, 1, 'A')), 'another key')
})

test('the same version goes back when ours lives or guards longer: the peer learns the horizon it lacks', () => {
  const seen = new RoundVersions(10)
  seen.add(v('k', 5, 1, 'A', 1000, 200))
  assert.ok(seen.has(v('k', 5, 1, 'A', 1000, 200)), 'the same horizons: nothing to tell')
  assert.ok(seen.has(v('k', 5, 1, 'A', 900, 100)), 'shorter ones: nothing to tell')
  assert.not.ok(seen.has(v('k', 5, 1, 'A', 1000, 5000)), 'our guard reaches further (we saw an older version it superseded)')
  assert.not.ok(seen.has(v('k', 5, 1, 'A', 6000, 200)), 'our marker lives longer')
})

test('a later version of a key replaces the one noted', () => {
  const seen = new RoundVersions(10)
  seen.add(v('k', 5))
  seen.add(v('k', 7))
  assert.ok(seen.has(v('k', 7)))
  assert.not.ok(seen.has(v('k', 5)))
  assert.is(seen.size, 1)
})

test('keeps only the version, not the record (nor the frame its value is a view of)', () => {
  const seen = new RoundVersions(10)
  const frame = new Uint8Array(1024)
  const rec = { ...v('k', 5, 0, 'A', 9, 3), value: frame.subarray(0, 8) }
  seen.add(rec)
  const kept = (seen as unknown as { versions: Map<string, object> }).versions.get('k')
  assert.equal(kept, { wall: 5, counter: 0, origin: 'A', expiresAt: 9, guardUntil: 3 })
})

test('notes at most `max` keys; past that, keys are not noted (they are sent back, and found stale)', () => {
  const seen = new RoundVersions(3)
  for (let i = 0; i < 10; i++) seen.add(v(`k${i}`, i))
  assert.is(seen.size, 3)
  assert.ok(seen.has(v('k2', 2)))
  assert.not.ok(seen.has(v('k3', 3)))
  seen.add(v('k1', 100)) // a key already noted still takes a newer version
  assert.ok(seen.has(v('k1', 100)))
})

test('bounded by bytes as well as by keys: past either, nothing more is noted', () => {
  const key = (i: number): string => `key-${String(i).padStart(12, '0')}` // 16 code units
  const seen = new RoundVersions(1_000_000, 10 * (NOTE_BYTES + 32))
  for (let i = 0; i < 100; i++) seen.add(v(key(i), 5))
  assert.is(seen.size, 10)
  assert.ok(seen.has(v(key(9), 5)))
  assert.not.ok(seen.has(v(key(10), 5)), 'past the byte bound')
  seen.add(v(key(3), 6)) // a key already noted is updated in place, at no cost
  assert.ok(seen.has(v(key(3), 6)))
  const few = new RoundVersions(3)
  for (let i = 0; i < 10; i++) few.add(v(key(i), 5))
  assert.is(few.size, 3, 'past the key bound')
})

test.run()
