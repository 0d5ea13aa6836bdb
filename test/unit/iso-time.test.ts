import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isoTime } from '../../src/http/iso-time.ts'
import { prng } from './helpers.ts'

test('isoTime writes exactly what toISOString writes, across the whole four-digit-year range', () => {
  const random = prng(11)
  for (let i = 0; i < 200_000; i++) {
    const ms = Math.floor(random() * 253_402_300_800_000)
    assert.is(isoTime(ms), new Date(ms).toISOString(), String(ms))
  }
})

test('isoTime: day, leap-year and range edges, and values it hands to Date', () => {
  const edges = [0, 1, 999, 1000, 86_399_999, 86_400_000, 951_782_400_000, 951_868_799_999, 951_868_800_000,
    4_107_542_400_000, 253_402_300_799_999, 253_402_300_800_000, -1, -86_400_001, 1.5, 1_764_198_000_000.25]
  for (const ms of edges) assert.is(isoTime(ms), new Date(ms).toISOString(), String(ms))
  assert.is(isoTime(0), '1970-01-01T00:00:00.000Z')
  assert.is(isoTime(951_782_400_000), '2000-02-29T00:00:00.000Z')
})

test('isoTime alternating between days keeps each day right (its cache holds two days)', () => {
  const days = [1_764_198_000_000, 1_764_298_000_000, 1_764_398_000_000]
  for (let i = 0; i < 30; i++) {
    const ms = days[i % 3] + i
    assert.is(isoTime(ms), new Date(ms).toISOString())
  }
})

test.run()
