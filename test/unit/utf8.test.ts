/**
 * The hot-path UTF-8 helpers give exactly what `Buffer` gives: the same
 * lengths, the same bytes, the same strings, and `undefined` exactly where
 * the bytes are not valid UTF-8; the cache of recurring strings never hands
 * out a string for bytes other than its own.
 */
import { isUtf8 } from 'node:buffer'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readUtf8, textOrBase64, utf8Length, utf8Text, Utf8Cache, writeUtf8 } from '../../src/util/utf8.ts'
import { prng, randInt } from './helpers.ts'

/** Code units of every kind: ASCII (controls too), 2 and 3 bytes, pairs, lone high and low surrogates. */
function randomString (rand: () => number, maxLength: number): string {
  let s = ''
  const n = randInt(rand, maxLength + 1)
  while (s.length < n) {
    const kind = randInt(rand, 10)
    if (kind < 5) s += String.fromCharCode(randInt(rand, 0x80))
    else if (kind === 5) s += String.fromCharCode(0x80 + randInt(rand, 0x780))
    else if (kind === 6) s += String.fromCharCode(0x800 + randInt(rand, 0xd000))
    else if (kind === 7) s += String.fromCodePoint(0x10000 + randInt(rand, 0xfffff))
    else if (kind === 8) s += String.fromCharCode(0xd800 + randInt(rand, 0x400)) // lone high (unless a low follows)
    else s += String.fromCharCode(0xdc00 + randInt(rand, 0x400)) // lone low
  }
  return s
}

test('utf8Length counts as Buffer.byteLength does, lone surrogates included', () => {
  const rand = prng(1)
  for (const s of ['', 'a', 'é', '€', '🔑', '\ud800', '\udc00', '\ud800\udc00', 'a\ud800', '\udbff\udfff\ud800']) {
    assert.is(utf8Length(s), Buffer.byteLength(s), JSON.stringify(s))
  }
  for (let i = 0; i < 5000; i++) {
    const s = randomString(rand, 100)
    assert.is(utf8Length(s), Buffer.byteLength(s), JSON.stringify(s))
  }
})

test('writeUtf8 writes the bytes buf.write writes, short and long, ASCII and not', () => {
  const rand = prng(2)
  for (let i = 0; i < 5000; i++) {
    const s = randomString(rand, 150)
    const bytes = Buffer.byteLength(s)
    const ours = Buffer.alloc(bytes + 6, 0xaa)
    const theirs = Buffer.alloc(bytes + 6, 0xaa)
    assert.is(writeUtf8(ours, 3, s, bytes), theirs.write(s, 3, bytes, 'utf8'), JSON.stringify(s))
    assert.equal(ours, theirs, JSON.stringify(s))
  }
})

test('readUtf8 decodes valid UTF-8 as toString does, anywhere in a buffer, and refuses invalid bytes', () => {
  const rand = prng(3)
  for (let i = 0; i < 3000; i++) {
    const s = randomString(rand, 150)
    const encoded = Buffer.from(s, 'utf8')
    const buf = Buffer.concat([Buffer.from([0xff, 0x41]), encoded, Buffer.from([0xc3])])
    assert.is(readUtf8(buf, 2, 2 + encoded.length), encoded.toString('utf8'), JSON.stringify(s))
  }
  for (let i = 0; i < 20000; i++) {
    const bytes = Buffer.from(Array.from({ length: randInt(rand, 80) }, () => randInt(rand, 4) === 0 ? randInt(rand, 256) : randInt(rand, 0x80)))
    const got = readUtf8(bytes, 0, bytes.length)
    if (isUtf8(bytes)) assert.is(got, bytes.toString('utf8'))
    else assert.is(got, undefined, `accepted ${bytes.toString('hex')}`)
  }
  assert.is(readUtf8(Buffer.from('abc'), 1, 1), '', 'an empty range')
})

test('utf8Text: the text of valid UTF-8, a byte-order mark kept, so that it encodes back to the same bytes; undefined otherwise', () => {
  for (const bytes of [[], [0x68, 0x69], [0xef, 0xbb, 0xbf], [0xef, 0xbb, 0xbf, 0x68, 0x69], [0xc3, 0xa9], [0xf0, 0x9f, 0x94, 0x91]]) {
    const text = utf8Text(Uint8Array.from(bytes))
    assert.type(text, 'string', JSON.stringify(bytes))
    assert.equal([...Buffer.from(text!, 'utf8')], bytes, JSON.stringify(bytes))
  }
  const inside = Uint8Array.from([0xff, 0xef, 0xbb, 0xbf, 0x41, 0xff]).subarray(1, 5)
  assert.is(utf8Text(inside), '\ufeffA', 'a view inside a larger buffer')
  for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0x68, 0xfe]]) assert.is(utf8Text(Uint8Array.from(bad)), undefined, JSON.stringify(bad))
  assert.equal(textOrBase64(inside), { value: '\ufeffA', encoding: 'utf8' })
  assert.equal(textOrBase64(Uint8Array.from([0xff, 0xfe, 0x00, 0x41]).subarray(0, 3)), { value: '//4A', encoding: 'base64' }, 'base64 of the view, not of its buffer')
})

test('Utf8Cache gives what readUtf8 gives, through hits, misses and collisions, and never caches invalid bytes', () => {
  const rand = prng(4)
  const cache = new Utf8Cache()
  // A small pool of recurring strings (many of the same length, so slots collide), some invalid byte strings, some long ones.
  const pool: Buffer[] = []
  for (let i = 0; i < 80; i++) pool.push(Buffer.from(`12D3KooW${String(i).padStart(44, 'x')}`))
  for (let i = 0; i < 20; i++) pool.push(Buffer.from(randomString(rand, 40), 'utf8'))
  pool.push(Buffer.from([0x41, 0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('x'.repeat(200)), Buffer.alloc(0))
  for (let i = 0; i < 50000; i++) {
    const bytes = pool[randInt(rand, pool.length)]
    const buf = Buffer.concat([Buffer.from([0x20]), bytes])
    assert.is(cache.read(buf, 1, buf.length), readUtf8(bytes, 0, bytes.length), bytes.toString('hex'))
  }
  // One byte different from a cached string, same length and same bytes at the slot's sample points: decoded anew.
  const a = Buffer.from('12D3KooWaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')
  const b = Buffer.from(a)
  b[3] = 0x45
  assert.is(cache.read(a, 0, a.length), a.toString())
  assert.is(cache.read(b, 0, b.length), b.toString())
  b[3] = 0xff
  assert.is(cache.read(b, 0, b.length), undefined, 'invalid after a valid string of the same slot')
})

test.run()
