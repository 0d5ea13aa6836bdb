/**
 * The key index's keyed hash: keys made to collide on the sync digest's
 * public FNV-1a spread over the index as any keys do, so that they cost a
 * lookup what other keys cost (they used to share one probe run).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { hashString } from '../../src/store/digest.ts'
import { indexHash, keyedStringHash } from '../../src/store/index-hash.ts'
import { KeyIndex } from '../../src/store/key-index.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { del, fnvCollidingKeys, put } from './helpers.ts'

const colliding = fnvCollidingKeys(12)

/** The longest run of occupied cells in `index`'s table: what a lookup may have to walk. */
function longestRun (index: KeyIndex): number {
  const table = (index as unknown as { table: Uint32Array }).table
  let longest = 0
  let run = 0
  for (let i = 0; i < table.length; i += 2) {
    run = table[i] === 0 ? 0 : run + 1
    longest = Math.max(longest, run)
  }
  return longest
}

test('the test keys do collide on the digest hash', () => {
  assert.is(new Set(colliding).size, 4096)
  assert.is(new Set(colliding.map(k => hashString(k, 0))).size, 1)
})

test('the keyed hash is HalfSipHash-1-3 over the key\'s UTF-16LE bytes, its last byte the length in code units', () => {
  // From a byte-wise implementation of the reference code (which gives the published HalfSipHash-2-4
  // vector 0x5b9f35a9 for the empty message under this key), run with c = 1, d = 3.
  const h = keyedStringHash(new Uint32Array([0x03020100, 0x07060504]))
  const vectors: Array<[string, number]> = [['', 0x5814c896], ['a', 0xfb64f026], ['ab', 0xa611b0ab], ['abc', 0x3a702256], ['repram/key', 0x5b893979], ['ключ🔑', 0xed82e932]]
  for (const [s, expected] of vectors) assert.is(h(s), expected, JSON.stringify(s))
})

test('the index hash is the same for the same string, and differs with the secret', () => {
  assert.is(indexHash('some/key'), indexHash('some/key'))
  const a = keyedStringHash(new Uint32Array([1, 2]))
  const b = keyedStringHash(new Uint32Array([1, 3]))
  const keys = Array.from({ length: 100 }, (_, i) => `k${i}`)
  assert.ok(keys.filter(k => a(k) === b(k)).length <= 1, 'another secret, other hashes')
  // Every code unit counts, and so does the length.
  assert.is.not(a('ab'), a('ba'))
  assert.is.not(a('a'), a('a\u0000'))
  assert.is.not(a('\uffff'), a('\ufffe'))
})

test('keys colliding on the digest hash spread over the index', () => {
  assert.ok(new Set(colliding.map(indexHash)).size >= 4090, 'next to no collisions')
  const index = new KeyIndex()
  const refs: string[] = []
  colliding.forEach((key, slot) => { refs[2 * slot] = key; index.insert(indexHash(key), slot) })
  assert.ok(longestRun(index) < 256, `longest probe run ${longestRun(index)} of 4096 keys`) // 17-69 in 200 draws of the secret; all 4096 on one hash
  colliding.forEach((key, slot) => { assert.is(index.find(key, indexHash(key), refs), slot) })
})

test('a store holding keys colliding on the digest hash finds each in a short probe run', () => {
  const store = new MemoryStore({ clock: () => 1000, maxEntries: 10_000, maxBytes: 1 << 24 })
  for (const key of colliding) store.apply(put(key, key))
  assert.ok(longestRun((store as unknown as { index: KeyIndex }).index) < 256)
  for (const key of colliding) assert.ok(store.has(key), key)
  // Deletes move cells back within the run (backward shift): the rest are still found.
  for (const key of colliding.slice(0, 2048)) store.apply(del(key, { wall: 1001 }))
  colliding.forEach((key, i) => { assert.is(store.has(key), i >= 2048, key) })
})

test.run()
