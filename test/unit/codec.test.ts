/**
 * Wire codec: every message kind survives encode → decode unchanged, and
 * decode refuses malformed bytes with `InvalidMessageError` (never another
 * error, never reading past its input), whatever the bytes.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  FORMAT, Kind, MAX_ACKS_PER_MESSAGE, MAX_CONTENT_TYPE_BYTES, MAX_ORIGIN_BYTES, MAX_RECORDS_PER_MESSAGE,
  decodeMessage, encodeAcks, encodeEnd, encodeReceived, encodeRecords, encodeSummary, encodeWant, recordSize
} from '../../src/replication/codec.ts'
import { InvalidMessageError } from '../../src/errors.ts'
import { SYNC_BUCKETS } from '../../src/store/digest.ts'
import { prng, randInt } from './helpers.ts'
import type { Ack, DecodeLimits, Message, WireRecord } from '../../src/replication/codec.ts'

const LIMITS: DecodeLimits = { maxKeyBytes: 512, maxValueBytes: 1024 * 1024 }
const MAX = Number.MAX_SAFE_INTEGER
const enc = new TextEncoder()

function rec (over: Partial<WireRecord> = {}): WireRecord {
  return {
    key: 'user:42',
    value: enc.encode('hello'),
    expiresAt: 1_700_000_060_000,
    wall: 1_700_000_000_000,
    counter: 7,
    origin: '12D3KooWGzBvZ8vUj5kTmN1y5b6oQ3cVHW8H1qCZ1aXk2mH9rQpe',
    guardUntil: 0,
    ...over
  }
}

/** What decode gives back for a record: `ack` only when true, `contentType` always present (maybe undefined). */
function expected (r: WireRecord): WireRecord {
  const out: WireRecord = { ...r, contentType: r.contentType, value: r.value === null ? null : new Uint8Array(r.value) }
  if (r.ack !== true) delete out.ack
  return out
}

function roundTrip (bytes: Uint8Array, limits = LIMITS): Message {
  return decodeMessage(bytes, limits)
}

/** Asserts that `fn` throws an InvalidMessageError (checked by name) whose message matches `re`. */
function assertInvalid (fn: () => unknown, re: RegExp | undefined, label: string): void {
  try {
    fn()
  } catch (err) {
    assert.is((err as Error).name, 'InvalidMessageError', `${label}: ${(err as Error).name}: ${(err as Error).message}`)
    assert.instance(err, InvalidMessageError)
    assert.is((err as InvalidMessageError).code, 'ERR_INVALID_MESSAGE')
    if (re !== undefined) assert.match((err as Error).message, re, label)
    return
  }
  assert.unreachable(`${label}: decoded without error`)
}

function decodeInvalid (bytes: Uint8Array, re?: RegExp, label = 'decode', limits = LIMITS): void {
  assertInvalid(() => decodeMessage(bytes, limits), re, label)
}

/** Unsigned LEB128 of any size (BigInt), to craft out-of-range varints. */
function varint (n: bigint | number): number[] {
  let v = BigInt(n)
  const out: number[] = []
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80)
    v >>= 7n
  }
  out.push(Number(v))
  return out
}

const str = (s: string): number[] => { const b = enc.encode(s); return [...varint(b.length), ...b] }

/** A record's bytes built by hand, field by field, so single fields can be corrupted. */
function rawRecord (f: { flags?: number, key?: number[], wall?: number[], counter?: number[], origin?: number[], expiresAt?: number[], tail?: number[] } = {}): number[] {
  return [
    f.flags ?? 1,
    ...(f.key ?? str('k')),
    ...(f.wall ?? varint(1000)),
    ...(f.counter ?? varint(0)),
    ...(f.origin ?? str('peer')),
    ...(f.expiresAt ?? varint(5000)),
    ...(f.tail ?? str('v')) // the value, for flags 1
  ]
}

const records = (...recs: number[][]): Uint8Array => Uint8Array.from([FORMAT, Kind.RECORDS, ...varint(recs.length), ...recs.flat()])

// --- round trips ---------------------------------------------------------------

test('RECORDS: a plain record round-trips', () => {
  const r = rec()
  const m = roundTrip(encodeRecords([r]))
  assert.equal(m, { kind: Kind.RECORDS, records: [expected(r)] })
})

test('RECORDS: every flag combination round-trips (value, ack, content type, guard)', () => {
  for (let flags = 0; flags < 16; flags++) {
    const r = rec({
      value: (flags & 1) !== 0 ? enc.encode('v') : null,
      ack: (flags & 2) !== 0,
      contentType: (flags & 4) !== 0 ? 'application/json; charset=utf-8' : undefined,
      guardUntil: (flags & 8) !== 0 ? 1_700_000_090_000 : 0
    })
    const bytes = encodeRecords([r])
    assert.is(bytes[3], flags, `flags byte for combination ${flags}`)
    const m = roundTrip(bytes)
    assert.equal(m, { kind: Kind.RECORDS, records: [expected(r)] }, `combination ${flags}`)
  }
})

test('RECORDS: a tombstone has value null; an empty value stays an empty value', () => {
  const m = roundTrip(encodeRecords([rec({ value: null }), rec({ key: 'empty', value: new Uint8Array(0) })]))
  assert.ok(m.kind === Kind.RECORDS)
  assert.is(m.records[0].value, null)
  assert.ok(m.records[1].value instanceof Uint8Array)
  assert.is(m.records[1].value?.length, 0)
})

test('RECORDS: unicode keys, origins and binary values round-trip', () => {
  const binary = new Uint8Array(256)
  for (let i = 0; i < 256; i++) binary[i] = i
  const batch = [
    rec({ key: 'ключ/键/🔑/é', value: binary }),
    rec({ key: '🔑'.repeat(128), value: enc.encode('exactly 512 bytes of key') }), // 4 bytes × 128
    rec({ key: 'k', origin: 'ó'.repeat(64), contentType: 'text/plain' }) // 128 bytes of origin
  ]
  const m = roundTrip(encodeRecords(batch))
  assert.equal(m, { kind: Kind.RECORDS, records: batch.map(expected) })
})

test('RECORDS: large numbers up to 2^53-1 and counters up to 2^32-1', () => {
  const edge = [0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 32, 2 ** 49 - 1, 2 ** 49, MAX - 1, MAX]
  const batch = edge.map((n, i) => rec({ key: `k${i}`, wall: n, expiresAt: n, guardUntil: n, counter: i % 2 === 0 ? 0xffffffff : Math.min(n, 0xffffffff) }))
  const m = roundTrip(encodeRecords(batch))
  assert.equal(m, { kind: Kind.RECORDS, records: batch.map(expected) })
})

test('RECORDS: empty and large batches; recordSize matches the encoding; precomputed sizes give the same bytes', () => {
  assert.equal(roundTrip(encodeRecords([])), { kind: Kind.RECORDS, records: [] })
  const rand = prng(1)
  const batch = Array.from({ length: 1000 }, (_, i) => rec({
    key: `key-${i}-${'ü'.repeat(randInt(rand, 5))}`,
    value: rand() < 0.2 ? null : new Uint8Array(randInt(rand, 300)).fill(i & 255),
    counter: randInt(rand, 1000),
    contentType: rand() < 0.3 ? 'text/plain' : undefined,
    guardUntil: rand() < 0.3 ? 1_700_000_100_000 : 0,
    ack: rand() < 0.5
  }))
  const bytes = encodeRecords(batch)
  const total = batch.reduce((n, r) => n + recordSize(r), 0)
  assert.is(bytes.length, 2 + varint(batch.length).length + total)
  assert.equal(Array.from(encodeRecords(batch, total)), Array.from(bytes))
  assert.equal(roundTrip(bytes), { kind: Kind.RECORDS, records: batch.map(expected) })
})

test('RECORDS: a decoded value is a view of its bytes in the message (the store copies what it keeps)', () => {
  const bytes = encodeRecords([rec({ value: enc.encode('abc') })])
  for (const input of [Buffer.from(bytes), new Uint8Array(bytes)]) {
    const m = decodeMessage(input, LIMITS)
    assert.ok(m.kind === Kind.RECORDS)
    const value = m.records[0].value!
    assert.is(value.buffer, input.buffer, 'no copy per record')
    assert.is(new TextDecoder().decode(value), 'abc')
    assert.is(Object.getPrototypeOf(value), Uint8Array.prototype, 'a plain Uint8Array, even from a Buffer')
    assert.is(value.byteOffset + value.length, input.byteOffset + input.length, 'exactly the value\'s bytes (the last field)')
  }
})

test('RECORDS: decodes from a view in the middle of a larger buffer', () => {
  const bytes = encodeRecords([rec(), rec({ key: 'other', value: null })])
  const big = new Uint8Array(bytes.length + 20).fill(0xff)
  big.set(bytes, 10)
  const m = decodeMessage(big.subarray(10, 10 + bytes.length), LIMITS)
  assert.equal(m, { kind: Kind.RECORDS, records: [expected(rec()), expected(rec({ key: 'other', value: null }))] })
})

test('RESEND: a salted re-publication decodes as the same RECORDS, with different bytes', () => {
  const r = rec()
  const plain = encodeRecords([r])
  const salted = encodeRecords([r], undefined, 12345)
  const other = encodeRecords([r], undefined, 54321)
  assert.not.equal(salted, plain)
  assert.not.equal(salted, other)
  assert.equal(decodeMessage(salted, LIMITS), decodeMessage(plain, LIMITS))
})

test('ACKS round-trip, including none and large numbers', () => {
  const acks: Ack[] = [
    { origin: '12D3KooWA', wall: 1_700_000_000_000, counter: 0 },
    { origin: 'ключ', wall: MAX, counter: 0xffffffff },
    { origin: 'x', wall: 0, counter: 1 }
  ]
  assert.equal(roundTrip(encodeAcks('12D3KooWAcker', acks)), { kind: Kind.ACKS, acker: '12D3KooWAcker', acks })
  assert.equal(roundTrip(encodeAcks('me', [])), { kind: Kind.ACKS, acker: 'me', acks: [] })
  // The same acks twice make different bytes (gossip ids are a hash of them), decoding alike.
  assert.not.equal(encodeAcks('me', acks), encodeAcks('me', acks))
  assert.equal(encodeAcks('me', acks, 5), encodeAcks('me', acks, 5), 'the salt is all that differs')
  assert.equal(roundTrip(encodeAcks('me', acks, 2 ** 32 - 2)), { kind: Kind.ACKS, acker: 'me', acks })
})

test('SUMMARY round-trips a full digest table and a single bucket', () => {
  const rand = prng(3)
  const digests = new Uint32Array(SYNC_BUCKETS * 2)
  for (let i = 0; i < digests.length; i++) digests[i] = Math.floor(rand() * 0x100000000)
  digests[0] = 0
  digests[1] = 0xffffffff
  const bytes = encodeSummary(digests)
  assert.is(bytes.length, 2 + varint(SYNC_BUCKETS).length + SYNC_BUCKETS * 8)
  const m = roundTrip(bytes)
  assert.ok(m.kind === Kind.SUMMARY)
  assert.equal(Array.from(m.digests), Array.from(digests))
  // Unaligned input: the summary starts at an odd offset of a larger buffer.
  const big = new Uint8Array(bytes.length + 3)
  big.set(bytes, 1)
  const m2 = decodeMessage(big.subarray(1, 1 + bytes.length), LIMITS)
  assert.ok(m2.kind === Kind.SUMMARY)
  assert.equal(Array.from(m2.digests), Array.from(digests))
  const one = roundTrip(encodeSummary(Uint32Array.of(1, 2)))
  assert.ok(one.kind === Kind.SUMMARY)
  assert.equal(Array.from(one.digests), [1, 2])
})

test('WANT, END and RECEIVED round-trip', () => {
  for (const bytes of [0, 1, 127, 128, 262_144, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
    assert.equal(roundTrip(encodeReceived(bytes)), { kind: Kind.RECEIVED, bytes })
  }
  assert.equal(Array.from(encodeReceived(300)), [FORMAT, Kind.RECEIVED, 0xac, 0x02])
  assert.equal(roundTrip(encodeWant([], new Uint32Array(0))), { kind: Kind.WANT, buckets: [], digests: new Uint32Array(0) })
  const digests = Uint32Array.from({ length: 12 }, (_, i) => (0x9e3779b9 * (i + 1)) >>> 0)
  assert.equal(roundTrip(encodeWant([0, 1, 127, 128, 1023, 65535], digests)), { kind: Kind.WANT, buckets: [0, 1, 127, 128, 1023, 65535], digests })
  assert.throws(() => encodeWant([1, 2], new Uint32Array(2)), /2 buckets need 4 digest words/)
  assert.equal(roundTrip(encodeEnd()), { kind: Kind.END })
  assert.equal(Array.from(encodeEnd()), [FORMAT, Kind.END])
})

// --- rejections ------------------------------------------------------------------

/** One valid message of each kind, with every optional field present. */
function samples (): Array<[string, Uint8Array]> {
  const digests = new Uint32Array(8)
  for (let i = 0; i < 8; i++) digests[i] = 0x01020304 * (i + 1)
  return [
    ['records', encodeRecords([
      rec({ ack: true, contentType: 'text/plain', guardUntil: 1_700_000_090_000, key: 'ключ' }),
      rec({ key: 'tomb', value: null, wall: MAX, counter: 0xffffffff })
    ])],
    ['acks', encodeAcks('acker', [{ origin: 'o1', wall: 1_700_000_000_000, counter: 3 }, { origin: 'o2', wall: 5, counter: 0 }])],
    ['summary', encodeSummary(digests)],
    ['want', encodeWant([1, 200, 65535], Uint32Array.of(1, 2, 3, 4, 5, 6))],
    ['end', encodeEnd()],
    ['received', encodeReceived(1_000_000)]
  ]
}

test('rejects an empty buffer', () => {
  decodeInvalid(new Uint8Array(0), /truncated message: missing format/)
})

test('rejects a wrong format byte', () => {
  for (const format of [0, 2, 0xff]) decodeInvalid(Uint8Array.of(format, Kind.END), /unknown format/, `format ${format}`)
})

test('rejects an unknown message kind', () => {
  for (const kind of [0, 8, 0x7f, 0xff]) decodeInvalid(Uint8Array.of(FORMAT, kind), /unknown message kind/, `kind ${kind}`)
  decodeInvalid(Uint8Array.of(FORMAT), /truncated message: missing kind/)
})

test('rejects every truncation of every message kind (the view never reads past its end)', () => {
  for (const [name, bytes] of samples()) {
    decodeMessage(bytes, LIMITS) // the whole message is valid
    for (let len = 0; len < bytes.length; len++) {
      // A view into the full buffer: reading past `len` would find valid bytes.
      decodeInvalid(bytes.subarray(0, len), undefined, `${name} truncated to ${len} of ${bytes.length} (view)`)
      decodeInvalid(bytes.slice(0, len), undefined, `${name} truncated to ${len} of ${bytes.length} (copy)`)
    }
  }
})

test('rejects trailing bytes after every message kind', () => {
  for (const [name, bytes] of samples()) {
    for (const extra of [[0], [1, 2, 3], [FORMAT, Kind.END]]) {
      decodeInvalid(Uint8Array.from([...bytes, ...extra]), /trailing bytes/, `${name} + ${extra.length}`)
    }
  }
})

test('rejects lengths longer than the bytes left', () => {
  decodeInvalid(records(rawRecord({ key: [100, 0x61, 0x62] })), /key needs 100 bytes/, 'key length')
  decodeInvalid(records(rawRecord({ tail: [50, 1, 2, 3] })), /value needs 50 bytes/, 'value length')
  decodeInvalid(records(rawRecord({ origin: [40, 0x61] })), /origin needs 40 bytes/, 'origin length')
  decodeInvalid(records(rawRecord({ flags: 1 | 4, tail: [9, 0x61] })), /content type needs 9 bytes/, 'content type length')
  decodeInvalid(Uint8Array.from([FORMAT, Kind.ACKS, 7, 30, 0x61]), /acker needs 30 bytes/, 'acker length')
})

test('at most MAX_RECORDS_PER_MESSAGE records and MAX_ACKS_PER_MESSAGE acks per message: the limit decodes, one more is refused', () => {
  const tiny = (i: number): WireRecord => ({ key: `k${i}`, value: null, expiresAt: 1, wall: 1, counter: 0, origin: 'A', guardUntil: 0 })
  const atLimit = Array.from({ length: MAX_RECORDS_PER_MESSAGE }, (_, i) => tiny(i))
  const decoded = decodeMessage(encodeRecords(atLimit), LIMITS) as Extract<Message, { kind: 1 }>
  assert.is(decoded.records.length, MAX_RECORDS_PER_MESSAGE)
  decodeInvalid(encodeRecords([...atLimit, tiny(-1)]), /record count 32769 is more than the limit of 32768/, 'records')
  const ack: Ack = { origin: 'A', wall: 1, counter: 0 }
  assert.is((decodeMessage(encodeAcks('B', Array(MAX_ACKS_PER_MESSAGE).fill(ack)), LIMITS) as Extract<Message, { kind: 2 }>).acks.length, MAX_ACKS_PER_MESSAGE)
  decodeInvalid(encodeAcks('B', Array(MAX_ACKS_PER_MESSAGE + 1).fill(ack)), /ack count 32769 is more than the limit of 32768/, 'acks')
})

test('rejects a key over maxKeyBytes, a value over maxValueBytes, and over-long origins and content types', () => {
  const limits = { maxKeyBytes: 16, maxValueBytes: 100 }
  decodeMessage(encodeRecords([rec({ key: 'k'.repeat(16), value: new Uint8Array(100) })]), limits) // at the limits: fine
  decodeInvalid(encodeRecords([rec({ key: 'k'.repeat(17) })]), /key is 17 bytes, more than the limit of 16/, 'key', limits)
  decodeInvalid(encodeRecords([rec({ key: 'é'.repeat(9) })]), /key is 18 bytes/, 'key in UTF-8 bytes', limits)
  decodeInvalid(encodeRecords([rec({ key: 'k', value: new Uint8Array(101) })]), /value is 101 bytes, more than the limit of 100/, 'value', limits)
  decodeInvalid(encodeRecords([rec({ origin: 'o'.repeat(MAX_ORIGIN_BYTES + 1) })]), /origin is 129 bytes/, 'origin')
  decodeInvalid(encodeRecords([rec({ contentType: 't'.repeat(MAX_CONTENT_TYPE_BYTES + 1) })]), /content type is 257 bytes/, 'content type')
  decodeInvalid(encodeAcks('a'.repeat(MAX_ORIGIN_BYTES + 1), []), /acker is 129 bytes/, 'acker')
  // The limit is checked before the remaining length: a huge declared length is refused as too long.
  decodeInvalid(records(rawRecord({ key: [...varint(MAX), 0x61] })), /key is 9007199254740991 bytes, more than the limit/, 'huge key length')
})

test('rejects invalid UTF-8 in keys, origins, content types and ackers', () => {
  const invalid: Array<[string, number[]]> = [
    ['lone continuation byte', [0x80]],
    ['0xff', [0x61, 0xff]],
    ['overlong "/"', [0xc0, 0xaf]],
    ['UTF-16 surrogate encoded', [0xed, 0xa0, 0x80]],
    ['truncated sequence', [0xe2, 0x82]],
    ['beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80]]
  ]
  for (const [name, bytes] of invalid) {
    const field = [...varint(bytes.length), ...bytes]
    decodeInvalid(records(rawRecord({ key: field })), /key is not valid UTF-8/, `key: ${name}`)
    decodeInvalid(records(rawRecord({ origin: field })), /origin is not valid UTF-8/, `origin: ${name}`)
    decodeInvalid(records(rawRecord({ flags: 4, tail: field })), /content type is not valid UTF-8/, `content type: ${name}`)
    decodeInvalid(Uint8Array.from([FORMAT, Kind.ACKS, 7, ...field, 0]), /acker is not valid UTF-8/, `acker: ${name}`)
  }
  // Values are bytes, not text: anything goes.
  const m = decodeMessage(records(rawRecord({ tail: [2, 0xff, 0xfe] })), LIMITS)
  assert.ok(m.kind === Kind.RECORDS)
  assert.equal(Array.from(m.records[0].value!), [0xff, 0xfe])
})

test('rejects an empty key and an empty origin', () => {
  decodeInvalid(records(rawRecord({ key: [0] })), /empty key/)
  decodeInvalid(records(rawRecord({ origin: [0] })), /empty origin/)
})

test('rejects unknown record flags', () => {
  for (const flags of [0x20, 0x40, 0x80, 0xff, 0x21]) {
    decodeInvalid(records(rawRecord({ flags })), /unknown record flags/, `flags 0x${flags.toString(16)}`)
  }
})

test('a notice: a marker record flagged 16, never with a value', () => {
  const notice = { key: 'k', value: null, expiresAt: 9000, wall: 1000, counter: 3, origin: 'peer', guardUntil: 7000, notice: true }
  const msg = decodeMessage(encodeRecords([notice]), LIMITS)
  assert.equal(msg, { kind: Kind.RECORDS, records: [{ ...notice, contentType: undefined }] })
  const plain = decodeMessage(encodeRecords([{ ...notice, notice: false }]), LIMITS)
  assert.is(plain.kind === Kind.RECORDS && plain.records[0].notice, undefined, 'not a notice unless flagged')
  assert.throws(() => encodeRecords([{ ...notice, value: Uint8Array.of(1) }]), /a notice carries no value/)
  decodeInvalid(records(rawRecord({ flags: 0x11 })), /a notice with a value/, 'flags 0x11')
  decodeMessage(records(rawRecord({ flags: 0x10, tail: [] })), LIMITS)
})

test('rejects varints longer than 8 bytes or above 2^53-1', () => {
  // 2^53-1 itself is fine (8 bytes).
  decodeMessage(records(rawRecord({ wall: varint(MAX) })), LIMITS)
  assert.is(varint(MAX).length, 8)
  decodeInvalid(records(rawRecord({ wall: varint(2n ** 53n) })), /wall 9007199254740992 is larger than 2\^53-1/, '2^53')
  decodeInvalid(records(rawRecord({ expiresAt: varint(2n ** 56n - 1n) })), /expiresAt .* is larger than 2\^53-1/, '2^56-1')
  decodeInvalid(records(rawRecord({ wall: varint(2n ** 56n) })), /wall is longer than 8 varint bytes/, '2^56 needs 9 bytes')
  decodeInvalid(records(rawRecord({ wall: [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00] })), /longer than 8 varint bytes/, 'padded zero')
  decodeInvalid(records(rawRecord({ wall: new Array(20).fill(0xff) })), /longer than 8 varint bytes/, 'endless continuation')
  decodeInvalid(Uint8Array.from([FORMAT, Kind.RECORDS, ...new Array(12).fill(0xff)]), /record count is longer than 8 varint bytes/, 'record count')
})

test('rejects varints padded with zero groups (one encoding per number)', () => {
  decodeMessage(records(rawRecord({ wall: [0xe8, 0x07] })), LIMITS) // 1000
  decodeInvalid(records(rawRecord({ wall: [0xe8, 0x87, 0x00] })), /wall is not minimally encoded/, '1000 padded')
  decodeInvalid(records(rawRecord({ counter: [0x80, 0x00] })), /counter is not minimally encoded/, '0 in two bytes')
  decodeInvalid(records(rawRecord({ key: [0x81, 0x00, 0x6b] })), /key length is not minimally encoded/, 'a padded length')
  decodeInvalid(Uint8Array.from([FORMAT, Kind.RECORDS, 0x81, 0x80, 0x00, ...rawRecord()]), /record count is not minimally encoded/, 'a padded count')
})

test('rejects a guard flag with a guard of 0: no guard is written as no flag', () => {
  const flagged = Uint8Array.from([FORMAT, Kind.RECORDS, 1, ...rawRecord({ flags: 1 | 8, expiresAt: [...varint(5000), ...varint(0)] })])
  decodeInvalid(flagged, /guardUntil is flagged but 0/)
  const guarded = Uint8Array.from([FORMAT, Kind.RECORDS, 1, ...rawRecord({ flags: 1 | 8, expiresAt: [...varint(5000), ...varint(7000)] })])
  assert.is((decodeMessage(guarded, LIMITS) as { records: Array<{ guardUntil: number }> }).records[0].guardUntil, 7000)
})

test('rejects a counter above 2^32-1', () => {
  decodeMessage(records(rawRecord({ counter: varint(0xffffffff) })), LIMITS)
  decodeInvalid(records(rawRecord({ counter: varint(2 ** 32) })), /counter 4294967296 is larger than 2\^32-1/)
})

test('rejects counts larger than the bytes left could hold', () => {
  const one = rawRecord()
  decodeInvalid(Uint8Array.from([FORMAT, Kind.RECORDS, ...varint(2), ...one]), undefined, 'two records announced, one present')
  decodeInvalid(Uint8Array.from([FORMAT, Kind.RECORDS, ...varint(1000), ...one]), /record count 1000 cannot fit/, 'record count')
  decodeInvalid(Uint8Array.from([FORMAT, Kind.RECORDS, ...varint(MAX)]), /record count 9007199254740991 is more than the limit/, 'max record count')
  decodeInvalid(Uint8Array.from([FORMAT, Kind.ACKS, 7, ...str('a'), ...varint(100), 1, 0x61, 0, 0]), /ack count 100 cannot fit/, 'ack count')
  decodeInvalid(Uint8Array.from([FORMAT, Kind.WANT, ...varint(5), 1, 2]), /bucket count 5 cannot fit/, 'want count')
  decodeInvalid(Uint8Array.from([FORMAT, Kind.SUMMARY, ...varint(2), ...new Array(8).fill(0)]), /bucket count 2 cannot fit/, 'summary count')
  decodeInvalid(Uint8Array.from([FORMAT, Kind.SUMMARY, ...varint(MAX)]), /cannot fit/, 'max summary count')
})

test('rejects summary bucket counts outside [1, 65536] and want buckets above 65535', () => {
  decodeInvalid(Uint8Array.from([FORMAT, Kind.SUMMARY, 0]), /bucket count 0 is outside/, 'zero buckets')
  const summaryOf = (n: number): Uint8Array => {
    const head = [FORMAT, Kind.SUMMARY, ...varint(n)]
    const out = new Uint8Array(head.length + n * 8)
    out.set(head)
    return out
  }
  decodeInvalid(summaryOf(65537), /bucket count 65537 is outside/, 'too many buckets')
  decodeMessage(summaryOf(65536), LIMITS)
  decodeInvalid(Uint8Array.from([FORMAT, Kind.WANT, 1, ...varint(65536), ...new Array(8).fill(0)]), /bucket 65536 is out of range/)
  // More buckets than exist: refused before an array of that size is made.
  decodeInvalid(Uint8Array.from([FORMAT, Kind.WANT, ...varint(65537), ...new Uint8Array(65537 * 9)]), /bucket count 65537 is more than the limit of 65536/, 'want count')
})

test('fuzz: 20k random mutations of valid messages decode or throw InvalidMessageError, nothing else', () => {
  const rand = prng(0xc0dec)
  const bases = samples().map(s => s[1])
  const counts = { decoded: 0, rejected: 0 }
  const limits = { maxKeyBytes: 64, maxValueBytes: 4096 }
  for (let i = 0; i < 20_000; i++) {
    const bytes = [...bases[randInt(rand, bases.length)]]
    const mutations = 1 + randInt(rand, 4)
    for (let m = 0; m < mutations; m++) {
      const pos = randInt(rand, bytes.length + 1)
      switch (randInt(rand, 7)) {
        case 0: bytes[pos] = randInt(rand, 256); break // overwrite a byte
        case 1: bytes[pos] = (bytes[pos] ?? 0) ^ (1 << randInt(rand, 8)); break // flip a bit
        case 2: bytes.splice(pos, 0, randInt(rand, 256)); break // insert a byte
        case 3: bytes.splice(pos, 1 + randInt(rand, 3)); break // delete bytes
        case 4: bytes.length = Math.min(bytes.length, pos); break // truncate
        case 5: bytes.splice(pos, 0, ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f].slice(randInt(rand, 8))); break // a big varint
        default: bytes.splice(pos, 0, ...bytes.slice(randInt(rand, bytes.length), randInt(rand, bytes.length))) // duplicate a slice
      }
    }
    const input = Uint8Array.from(bytes)
    let decoded: Message
    try {
      decoded = decodeMessage(input, limits)
    } catch (err) {
      if ((err as Error).name !== 'InvalidMessageError') {
        assert.unreachable(`mutation ${i} threw ${(err as Error).name}: ${(err as Error).message} for [${bytes.join(',')}]`)
      }
      counts.rejected++
      continue
    }
    counts.decoded++
    // Whatever decodes is a well-formed message: re-encoding and decoding it gives it back.
    const again = decodeMessage(reencode(decoded), limits)
    assert.equal(again, decoded, `mutation ${i} re-encodes`)
  }
  assert.ok(counts.rejected > 10_000, `most mutations are rejected (${counts.rejected})`)
  assert.ok(counts.decoded > 0, `some mutations still decode (${counts.decoded})`)
})

function reencode (m: Message): Uint8Array {
  switch (m.kind) {
    case Kind.RECORDS: return encodeRecords(m.records)
    case Kind.ACKS: return encodeAcks(m.acker, m.acks)
    case Kind.SUMMARY: return encodeSummary(m.digests)
    case Kind.WANT: return encodeWant(m.buckets, m.digests)
    case Kind.END: return encodeEnd()
    case Kind.RECEIVED: return encodeReceived(m.bytes)
  }
}

test.run()
