/**
 * BackoffTable: per-peer backoffs that double per failure within bounds,
 * end on success, and remember a bounded number of peers. Times passed in (ms).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { BackoffTable } from '../../src/discovery/backoff.ts'

test('the first failure holds a peer off for the minimum, each next one twice as long up to the maximum', () => {
  const t = new BackoffTable(1_500, 60_000)
  assert.equal([1, 2, 3, 4, 5, 6, 7, 8].map(() => t.fail('a', 0)), [1_500, 3_000, 6_000, 12_000, 24_000, 48_000, 60_000, 60_000])
  assert.ok(t.active('a', 59_999))
  assert.not.ok(t.active('a', 60_000), 'held off until the backoff ends, not after')
  assert.not.ok(t.active('b', 0), 'a peer that never failed')
})

test('a success forgets the failures: the next one starts at the minimum again', () => {
  const t = new BackoffTable(100, 1_000)
  t.fail('a', 0)
  t.fail('a', 0)
  t.delete('a')
  assert.not.ok(t.active('a', 0))
  assert.is(t.fail('a', 0), 100)
  t.clear()
  assert.not.ok(t.active('a', 0))
})

test('beyond the bound, the peer whose last failure is oldest is forgotten', () => {
  const t = new BackoffTable(100, 1_000, 2)
  t.fail('a', 0)
  t.fail('b', 0)
  t.fail('a', 0) // a failed again: b is now the longest quiet
  t.fail('c', 0)
  assert.ok(t.active('a', 50))
  assert.not.ok(t.active('b', 50), 'b forgotten')
  assert.ok(t.active('c', 50))
  assert.is(t.fail('a', 0), 400, 'a kept its count')
})

test.run()
