/** KeyIndex against a Map model: random inserts and removes, colliding hashes, growth, wrap-around. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { KeyIndex } from '../../src/store/key-index.ts'
import { hashKeyUtf8, hashString } from '../../src/store/digest.ts'
import { prng } from './helpers.ts'

function harness (hashOf: (key: string) => number) {
  const index = new KeyIndex()
  const keyOf: Array<string | undefined> = []
  /** Keys at 2 * slot, as the store lays them out. */
  const refs: Array<string | undefined> = []
  let keyHashes = new Uint32Array(1 << 16)
  const free: number[] = []
  const model = new Map<string, number>()
  return {
    index,
    model,
    add (key: string): void {
      const slot = free.pop() ?? keyOf.length
      keyOf[slot] = key
      refs[2 * slot] = key
      if (slot >= keyHashes.length) { const next = new Uint32Array(keyHashes.length * 2); next.set(keyHashes); keyHashes = next }
      keyHashes[slot] = hashOf(key)
      index.insert(keyHashes[slot], slot)
      model.set(key, slot)
    },
    remove (key: string): void {
      const slot = model.get(key)!
      index.remove(keyHashes[slot], slot)
      keyOf[slot] = undefined
      refs[2 * slot] = undefined
      free.push(slot)
      model.delete(key)
    },
    find (key: string): number { return index.find(key, hashOf(key), refs) },
    check (keys: string[]): void {
      for (const key of keys) assert.is(this.find(key), model.get(key) ?? -1, `find(${key})`)
      assert.is(index.size, model.size)
    }
  }
}

for (const [name, hashOf] of [
  ['real hashes', (k: string) => hashString(k, 0)],
  ['only 7 distinct hashes (long probe runs, wrap-around)', (k: string) => hashString(k, 0) % 7],
  ['one hash for every key', () => 42]
] as Array<[string, (k: string) => number]>) {
  test(`agrees with a Map under random inserts and removes: ${name}`, () => {
    const rand = prng(7)
    const h = harness(hashOf)
    const universe = Array.from({ length: name.startsWith('one') ? 300 : 5000 }, (_, i) => `key-${i}`)
    for (let step = 0; step < 20_000; step++) {
      const key = universe[Math.floor(rand() * universe.length)]
      if (h.model.has(key)) h.remove(key)
      else h.add(key)
      if (step % 2500 === 0) h.check(universe)
    }
    h.check(universe)
    for (const key of [...h.model.keys()]) h.remove(key)
    h.check(universe)
    assert.is(h.index.size, 0)
  })
}

test('grows past its first table and keeps every key', () => {
  const h = harness(k => hashString(k, 0))
  const keys = Array.from({ length: 50_000 }, (_, i) => `k${i}`)
  for (const k of keys) h.add(k)
  h.check(keys)
  assert.is(h.find('absent'), -1)
})

test('hashKeyUtf8 hashes like hashString and counts UTF-8 bytes like Buffer.byteLength, surrogates included', () => {
  const random = prng(5)
  // ASCII, 2- and 3-byte units, pairs, and lone high and low surrogates (first, last, in the middle)
  const units = [0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xfffd, 0xd83d, 0xde00, 0xdbff, 0xdc00]
  const out = { bytes: -1 }
  for (let n = 0; n < 20_000; n++) {
    const codes = Array.from({ length: Math.floor(random() * 12) }, () => units[Math.floor(random() * units.length)])
    const s = String.fromCharCode(...codes)
    assert.is(hashKeyUtf8(s, out), hashString(s, 0), JSON.stringify(s))
    assert.is(out.bytes, Buffer.byteLength(s, 'utf8'), JSON.stringify(s))
  }
  assert.is(hashKeyUtf8('😀', out), hashString('😀', 0))
  assert.is(out.bytes, 4)
})

test.run()
