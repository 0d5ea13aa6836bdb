import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RateLimiter } from '../../src/http/rate-limit.ts'

function clocked (init: { requestsPerSecond: number, burst: number, maxClients?: number }): { limiter: RateLimiter, advance: (ms: number) => void } {
  let now = 1_000_000
  const limiter = new RateLimiter({ ...init, clock: () => now })
  return { limiter, advance: (ms) => { now += ms } }
}

test('a client may make `burst` requests at once, then is refused with a retry delay', () => {
  const { limiter } = clocked({ requestsPerSecond: 2, burst: 3 })
  for (let i = 0; i < 3; i++) assert.equal(limiter.take('a'), { allowed: true }, `request ${i}`)
  const refused = limiter.take('a')
  assert.equal(refused.allowed, false)
  assert.equal(refused.allowed === false && refused.retryAfterSeconds, 1)
})

test('tokens come back at requestsPerSecond', () => {
  const { limiter, advance } = clocked({ requestsPerSecond: 2, burst: 1 })
  assert.ok(limiter.take('a').allowed)
  assert.not.ok(limiter.take('a').allowed)
  advance(499)
  assert.not.ok(limiter.take('a').allowed)
  advance(1)
  assert.ok(limiter.take('a').allowed)
})

test('Retry-After rounds the wait up to whole seconds', () => {
  const { limiter } = clocked({ requestsPerSecond: 0.1, burst: 1 })
  assert.ok(limiter.take('a').allowed)
  const refused = limiter.take('a')
  assert.equal(refused.allowed === false && refused.retryAfterSeconds, 10)
})

test('clients have separate buckets', () => {
  const { limiter } = clocked({ requestsPerSecond: 1, burst: 1 })
  assert.ok(limiter.take('a').allowed)
  assert.not.ok(limiter.take('a').allowed)
  assert.ok(limiter.take('b').allowed)
})

test('idle clients are swept, and the table never exceeds maxClients', () => {
  const { limiter, advance } = clocked({ requestsPerSecond: 10, burst: 5, maxClients: 3 })
  limiter.take('a')
  limiter.take('b')
  limiter.take('c')
  assert.is(limiter.size, 3)
  limiter.take('d')
  assert.ok(limiter.size <= 3)
  advance(60_000)
  limiter.take('e')
  assert.is(limiter.size, 1, 'refilled buckets are dropped')
})

test('the burst never exceeds its cap after a long idle time', () => {
  const { limiter, advance } = clocked({ requestsPerSecond: 100, burst: 2 })
  limiter.take('a')
  advance(3_600_000)
  assert.ok(limiter.take('a').allowed)
  assert.ok(limiter.take('a').allowed)
  assert.not.ok(limiter.take('a').allowed)
})

test.run()
