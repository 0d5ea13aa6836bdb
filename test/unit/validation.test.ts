/**
 * Checks on what callers pass to put/get/delete: each bad input throws its
 * named error (checked by `name`) with a message saying what was wrong.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { toValueBytes, validateContentType, validateCount, validateKey, validateTtl } from '../../src/validation.ts'
import { RepramError } from '../../src/errors.ts'
import { prng, randInt } from './helpers.ts'

/** Asserts `fn` throws an error named `name` (a RepramError with a code) whose message matches `re`. */
function throwsNamed (fn: () => unknown, name: string, re: RegExp, label = String(re)): Error {
  try {
    fn()
  } catch (err) {
    const e = err as Error & { code?: unknown }
    assert.is(e.name, name, `${label}: got ${e.name}: ${e.message}`)
    assert.instance(e, RepramError)
    assert.type(e.code, 'string')
    assert.match(e.message, re, label)
    return e
  }
  assert.unreachable(`${label}: did not throw`)
  throw new Error('unreachable')
}

// --- validateKey -----------------------------------------------------------------

test('validateKey accepts and returns UTF-8 keys up to maxKeyBytes', () => {
  for (const key of ['k', 'user:42', 'a/b?c=d#e&f', ' spaced key ', 'ключ', '键', '🔑', 'é'.repeat(256), '\u0080c1-is-not-c0']) {
    assert.is(validateKey(key, 512), key)
  }
  assert.is(validateKey('🔑'.repeat(128), 512), '🔑'.repeat(128), 'exactly 512 bytes')
})

test('validateKey: not a string', () => {
  throwsNamed(() => validateKey(42, 512), 'InvalidKeyError', /key must be a string, got number/)
  throwsNamed(() => validateKey(undefined, 512), 'InvalidKeyError', /got undefined/)
  throwsNamed(() => validateKey(null, 512), 'InvalidKeyError', /got object/)
  throwsNamed(() => validateKey(new TextEncoder().encode('k'), 512), 'InvalidKeyError', /must be a string/)
})

test('validateKey: empty', () => {
  const e = throwsNamed(() => validateKey('', 512), 'InvalidKeyError', /key must not be empty/)
  assert.is((e as RepramError).code, 'ERR_INVALID_KEY')
})

test('validateKey: lone surrogates are not valid Unicode', () => {
  for (const key of ['\ud800', 'a\udc00b', 'end\ud83d', '\udd11start']) {
    throwsNamed(() => validateKey(key, 512), 'InvalidKeyError', /not valid Unicode \(lone surrogate\)/, JSON.stringify(key))
  }
  assert.is(validateKey('\ud83d\udd11', 512), '🔑', 'a proper pair is fine')
})

test('validateKey: C0 control characters and DEL', () => {
  for (const key of ['a\nb', 'tab\t', '\u0000', 'x\u001f', 'del\u007f', '\r\n']) {
    throwsNamed(() => validateKey(key, 512), 'InvalidKeyError', /must not contain control characters/, JSON.stringify(key))
  }
})

test('validateKey: longer than maxKeyBytes, counted in UTF-8 bytes', () => {
  throwsNamed(() => validateKey('k'.repeat(513), 512), 'InvalidKeyError', /key is 513 bytes of UTF-8, longer than maxKeyBytes \(512\)/)
  throwsNamed(() => validateKey('é'.repeat(257), 512), 'InvalidKeyError', /key is 514 bytes/, '257 characters, 514 bytes')
  throwsNamed(() => validateKey('🔑', 3), 'InvalidKeyError', /key is 4 bytes of UTF-8, longer than maxKeyBytes \(3\)/)
})

// --- validateTtl -----------------------------------------------------------------

const BOUNDS = { minTtl: 100, maxTtl: 1000 }

test('validateKey decides every key as the plain definition does (well-formed, no C0 or DEL, byte length), with the same message', () => {
  // The definition, spelled with the built-ins; validateKey does it in one pass.
  const reference = (key: string, max: number): string => {
    if (key.length === 0) return 'key must not be empty'
    if (!key.isWellFormed()) return 'key is not valid Unicode (lone surrogate)'
    if (/[\u0000-\u001f\u007f]/.test(key)) return 'key must not contain control characters' // eslint-disable-line no-control-regex
    const bytes = Buffer.byteLength(key)
    return bytes > max ? `key is ${bytes} bytes of UTF-8, longer than maxKeyBytes (${max})` : 'ok'
  }
  const rand = prng(11)
  const units = [0x00, 0x1f, 0x20, 0x41, 0x7e, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xffff]
  for (let i = 0; i < 20000; i++) {
    let key = ''
    const n = randInt(rand, 12)
    for (let k = 0; k < n; k++) key += String.fromCharCode(randInt(rand, 3) === 0 ? units[randInt(rand, units.length)] : 0x61 + randInt(rand, 26))
    const max = randInt(rand, 30)
    let got = 'ok'
    try { validateKey(key, max) } catch (err) { got = (err as Error).message }
    assert.is(got, reference(key, max), JSON.stringify(key))
  }
})

test('validateTtl accepts integers within [minTtl, maxTtl]', () => {
  for (const ttl of [100, 101, 500, 999, 1000]) assert.is(validateTtl(ttl, BOUNDS), ttl)
})

test('validateTtl: not an integer number of ms', () => {
  throwsNamed(() => validateTtl(1.5, BOUNDS), 'InvalidTtlError', /ttl must be an integer number of milliseconds, got 1.5/)
  throwsNamed(() => validateTtl(Number.NaN, BOUNDS), 'InvalidTtlError', /got NaN/)
  throwsNamed(() => validateTtl(Infinity, BOUNDS), 'InvalidTtlError', /got Infinity/)
  throwsNamed(() => validateTtl('500', BOUNDS), 'InvalidTtlError', /got string/)
  throwsNamed(() => validateTtl(undefined, BOUNDS), 'InvalidTtlError', /got undefined/)
  throwsNamed(() => validateTtl(500n, BOUNDS), 'InvalidTtlError', /got bigint/)
})

test('validateTtl: outside [minTtl, maxTtl]', () => {
  const e = throwsNamed(() => validateTtl(99, BOUNDS), 'InvalidTtlError', /ttl 99 ms is outside the allowed range \[100, 1000\] ms/)
  assert.is((e as RepramError).code, 'ERR_INVALID_TTL')
  throwsNamed(() => validateTtl(1001, BOUNDS), 'InvalidTtlError', /ttl 1001 ms is outside/)
  throwsNamed(() => validateTtl(0, BOUNDS), 'InvalidTtlError', /ttl 0 ms/)
  throwsNamed(() => validateTtl(-1000, BOUNDS), 'InvalidTtlError', /ttl -1000 ms/)
})

// --- toValueBytes ----------------------------------------------------------------

test('toValueBytes: strings become their UTF-8 bytes', () => {
  assert.equal(Array.from(toValueBytes('hi', 10)), [0x68, 0x69])
  assert.equal(Array.from(toValueBytes('é', 10)), [0xc3, 0xa9])
  assert.is(toValueBytes('', 10).length, 0, 'an empty value is allowed')
  assert.is(toValueBytes('🔑'.repeat(2), 8).length, 8, 'exactly maxValueBytes')
})

test('toValueBytes: Uint8Arrays (Buffers and views too) pass as they are, checked against the limit', () => {
  const input = Uint8Array.of(1, 2, 3)
  assert.is(toValueBytes(input, 3), input, 'no copy: the store makes its own')
  const view = Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7).subarray(2, 5)
  assert.is(toValueBytes(view, 3), view, 'a view of 3 bytes fits 3 bytes, whatever its backing buffer')
  const buf = Buffer.from('abc')
  assert.is(toValueBytes(buf, 3), buf)
  assert.throws(() => toValueBytes(new Uint8Array(4), 3), (err: Error) => err.name === 'ValueTooLargeError')
})

test('toValueBytes: larger than maxValueBytes (bytes, not characters)', () => {
  const e = throwsNamed(() => toValueBytes('x'.repeat(11), 10), 'ValueTooLargeError', /value is 11 bytes, larger than maxValueBytes \(10\)/)
  assert.is((e as RepramError & { size: number }).size, 11)
  assert.is((e as RepramError & { limit: number }).limit, 10)
  throwsNamed(() => toValueBytes('é'.repeat(6), 10), 'ValueTooLargeError', /value is 12 bytes/, '6 characters, 12 bytes')
  throwsNamed(() => toValueBytes(new Uint8Array(11), 10), 'ValueTooLargeError', /value is 11 bytes, larger than maxValueBytes \(10\)/)
  throwsNamed(() => toValueBytes(Buffer.alloc(1 << 20), 1000), 'ValueTooLargeError', /1048576 bytes/)
})

test('toValueBytes: only strings and Uint8Arrays', () => {
  throwsNamed(() => toValueBytes(42, 10), 'InvalidValueError', /value must be a string or Uint8Array, got number/)
  throwsNamed(() => toValueBytes(null, 10), 'InvalidValueError', /got null/)
  throwsNamed(() => toValueBytes(undefined, 10), 'InvalidValueError', /got undefined/)
  throwsNamed(() => toValueBytes({ data: 'x' }, 10), 'InvalidValueError', /got object/)
  throwsNamed(() => toValueBytes([1, 2], 10), 'InvalidValueError', /got object/)
  throwsNamed(() => toValueBytes(new ArrayBuffer(2), 10), 'InvalidValueError', /got object/)
  throwsNamed(() => toValueBytes(new Uint16Array(2), 10), 'InvalidValueError', /got object/)
  const e = throwsNamed(() => toValueBytes(true, 10), 'InvalidValueError', /got boolean/)
  assert.is((e as RepramError).code, 'ERR_INVALID_VALUE')
})

// --- validateContentType ---------------------------------------------------------

test('validateContentType: undefined, or 1-256 printable ASCII characters', () => {
  assert.is(validateContentType(undefined), undefined)
  for (const ct of ['text/plain', 'application/json; charset=utf-8', 'x', '~'.repeat(256), 'multipart/form-data; boundary="a b"']) {
    assert.is(validateContentType(ct), ct)
  }
  for (const bad of ['', 'x'.repeat(257), 'text/plain\n', 'text/plain\r\nX-Injected: 1', 'tëxt/plain', 'a\u007f', 'a\tb']) {
    throwsNamed(() => validateContentType(bad), 'InvalidArgumentError', /contentType must be 1-256 printable ASCII characters/, JSON.stringify(bad))
  }
  for (const bad of [42, null, {}, ['text/plain']]) {
    throwsNamed(() => validateContentType(bad), 'InvalidArgumentError', /contentType must be/, String(bad))
  }
})

// --- validateCount ---------------------------------------------------------------

test('validateCount: the default when undefined, the value when an integer in range', () => {
  assert.is(validateCount('quorum', undefined, 0, 0, 1000), 0)
  assert.is(validateCount('timeout', undefined, 5000, 1, 600_000), 5000)
  for (const v of [0, 1, 999, 1000]) assert.is(validateCount('quorum', v, 0, 0, 1000), v)
})

test('validateCount: anything else is an InvalidArgumentError naming the option and the value', () => {
  throwsNamed(() => validateCount('quorum', -1, 0, 0, 1000), 'InvalidArgumentError', /quorum must be an integer in \[0, 1000\], got -1/)
  throwsNamed(() => validateCount('quorum', 1001, 0, 0, 1000), 'InvalidArgumentError', /got 1001/)
  throwsNamed(() => validateCount('quorum', 1.5, 0, 0, 1000), 'InvalidArgumentError', /got 1.5/)
  throwsNamed(() => validateCount('timeout', Number.NaN, 5000, 1, 600_000), 'InvalidArgumentError', /timeout must be an integer in \[1, 600000\], got NaN/)
  throwsNamed(() => validateCount('timeout', Infinity, 5000, 1, 600_000), 'InvalidArgumentError', /got Infinity/)
  throwsNamed(() => validateCount('timeout', '100', 5000, 1, 600_000), 'InvalidArgumentError', /got 100/)
  const e = throwsNamed(() => validateCount('quorum', null, 0, 0, 1000), 'InvalidArgumentError', /got null/)
  assert.is((e as RepramError).code, 'ERR_INVALID_ARGUMENT')
})

test('toValueBytes: a string value with a lone surrogate is refused, not silently replaced', () => {
  throwsNamed(() => toValueBytes('ok \ud800', 1024), 'InvalidValueError', /lone surrogate/)
})

test.run()
