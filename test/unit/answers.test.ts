/** The HTTP adapter's cache of GET answers: bounded, and never more than a map (checking entries is the caller's job). */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ADMIT_EVERY, AnswerCache, MAX_KEPT, MAX_PINNED_BYTES } from '../../src/http/answers.ts'
import type { KeptAnswer } from '../../src/http/answers.ts'

/** An answer whose value is a view of a buffer of `bufferBytes`. */
const answer = (key: string, bufferBytes = 1): KeptAnswer => ({
  entry: { key, value: new Uint8Array(new ArrayBuffer(bufferBytes), 0, 1), expiresAt: 1, createdAt: 0, version: '0.0', origin: 'A' },
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
  assert.is(cache.pinnedBytes, 1)
  cache.forget('a%2Fb')
  assert.is(cache.get('a%2Fb'), undefined)
  assert.is(cache.size, 0)
  assert.is(cache.pinnedBytes, 0)
  cache.forget('never-kept')
  assert.is(cache.pinnedBytes, 0)
})

test(`holds on to at most ${MAX_PINNED_BYTES} bytes of the buffers its values are views of`, () => {
  const cache = new AnswerCache()
  const slab = 64 * 1024
  const fit = MAX_PINNED_BYTES / slab
  for (let i = 0; i < fit; i++) cache.keep(`s${i}`, answer(`s${i}`, slab))
  assert.is(cache.pinnedBytes, MAX_PINNED_BYTES)
  cache.keep('s0', answer('s0', slab))
  assert.is(cache.pinnedBytes, MAX_PINNED_BYTES, 'replacing an answer counts its buffer once')
  cache.keep('one-more', answer('one-more', slab))
  assert.is(cache.size, 1, 'crossing the bound starts over')
  assert.is(cache.pinnedBytes, slab)
  cache.keep('huge', answer('huge', MAX_PINNED_BYTES + 1))
  assert.is(cache.get('huge'), undefined, 'a buffer over the bound alone is not kept')
  assert.is(cache.pinnedBytes, slab)
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

test(`admits one fresh answer in ${ADMIT_EVERY}`, () => {
  const cache = new AnswerCache()
  const admitted = Array.from({ length: 4 * ADMIT_EVERY }, () => cache.admit())
  assert.is(admitted.filter(Boolean).length, 4)
  assert.ok(admitted.slice(0, ADMIT_EVERY).includes(true), 'within the first ADMIT_EVERY reads')
})

test.run()
