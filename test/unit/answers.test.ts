/** The HTTP adapter's cache of GET answers: bounded, and never more than a map (checking entries is the caller's job). */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { AnswerCache, MAX_KEPT } from '../../src/http/answers.ts'
import type { KeptAnswer } from '../../src/http/answers.ts'

const answer = (key: string): KeptAnswer => ({
  entry: { key, value: new Uint8Array(1), expiresAt: 1, createdAt: 0, version: '0.0', origin: 'A' },
  cors: {},
  remaining: 0,
  headers: []
})

test('keeps, returns and forgets answers by the key as the path spells it', () => {
  const cache = new AnswerCache()
  const a = answer('a/b')
  cache.keep('a%2Fb', a)
  assert.is(cache.get('a%2Fb'), a)
  assert.is(cache.get('a/b'), undefined, 'another spelling is another entry')
  cache.keep('a%2Fb', answer('a/b'))
  assert.is(cache.size, 1, 'keeping a key again replaces its answer')
  cache.forget('a%2Fb')
  assert.is(cache.get('a%2Fb'), undefined)
  assert.is(cache.size, 0)
})

test(`holds at most ${MAX_KEPT} keys: one more starts it over, a key already kept does not`, () => {
  const cache = new AnswerCache()
  for (let i = 0; i < MAX_KEPT; i++) cache.keep(`k${i}`, answer(`k${i}`))
  assert.is(cache.size, MAX_KEPT)
  cache.keep('k0', answer('k0'))
  assert.is(cache.size, MAX_KEPT)
  cache.keep('one-more', answer('one-more'))
  assert.is(cache.size, 1)
  assert.ok(cache.get('one-more'))
  assert.is(cache.get('k1'), undefined)
})

test.run()
