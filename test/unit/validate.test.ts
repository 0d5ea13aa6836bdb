/**
 * checkRecord: the verdict on a record received from a peer. `'ok'`,
 * `'expired'` (applied all the same: it may supersede an older version
 * held here; the store keeps no expired value), or the reason it is invalid: a version
 * from too far in the future, an expiry or guard beyond maxTtl + skew, or a
 * TTL longer than maxTtl (+ skew).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { breaksProtocol, checkRecord, overOwnLimits } from '../../src/replication/validate.ts'
import { put, del } from './helpers.ts'
import type { RecordBounds } from '../../src/replication/validate.ts'

const NOW = 1_700_000_000_000
const BOUNDS: RecordBounds = { maxTtl: 60_000, maxClockSkew: 5_000 }
const HORIZON = NOW + BOUNDS.maxTtl + BOUNDS.maxClockSkew

const live = (over: Parameters<typeof put>[2] = {}): ReturnType<typeof put> => put('k', 'v', { wall: NOW, expiresAt: NOW + 10_000, ...over })

test('ok: a fresh write within its TTL', () => {
  assert.is(checkRecord(live(), NOW, BOUNDS), 'ok')
  assert.is(checkRecord(live({ expiresAt: NOW + 1 }), NOW, BOUNDS), 'ok', 'expiring in 1 ms')
  assert.is(checkRecord(live({ expiresAt: NOW + BOUNDS.maxTtl }), NOW, BOUNDS), 'ok', 'the longest TTL')
  assert.is(checkRecord(live({ wall: NOW - 30_000, expiresAt: NOW + 30_000 }), NOW, BOUNDS), 'ok', 'written a while ago')
  assert.is(checkRecord(del('k', { wall: NOW, expiresAt: NOW + 60_000, guardUntil: NOW + 60_000 }), NOW, BOUNDS), 'ok', 'a tombstone')
})

test('ok at the edges: clock skew exactly maxClockSkew, expiry and guard exactly at the horizon', () => {
  assert.is(checkRecord(live({ wall: NOW + BOUNDS.maxClockSkew, expiresAt: NOW + BOUNDS.maxClockSkew + 1000 }), NOW, BOUNDS), 'ok')
  assert.is(checkRecord(live({ wall: NOW + BOUNDS.maxClockSkew, expiresAt: HORIZON }), NOW, BOUNDS), 'ok')
  assert.is(checkRecord(live({ guardUntil: HORIZON }), NOW, BOUNDS), 'ok')
})

test('expired: expiresAt at or before now', () => {
  assert.is(checkRecord(live({ wall: NOW - 20_000, expiresAt: NOW }), NOW, BOUNDS), 'expired', 'expiresAt is exclusive')
  assert.is(checkRecord(live({ wall: NOW - 20_000, expiresAt: NOW - 1 }), NOW, BOUNDS), 'expired')
  assert.is(checkRecord(live({ wall: 1, expiresAt: 2 }), NOW, BOUNDS), 'expired')
  assert.is(checkRecord(del('k', { wall: NOW - 10, expiresAt: NOW - 5 }), NOW, BOUNDS), 'expired', 'a tombstone past its horizon')
})

test('invalid: a version more than maxClockSkew ahead', () => {
  const verdict = checkRecord(live({ wall: NOW + BOUNDS.maxClockSkew + 1, expiresAt: NOW + 20_000 }), NOW, BOUNDS)
  assert.match(verdict, /version time \d+ is more than maxClockSkew ahead/)
  assert.match(checkRecord(del('k', { wall: NOW + 3_600_000, expiresAt: NOW + 3_600_001 }), NOW, BOUNDS), /more than maxClockSkew ahead/, 'tombstones too')
})

test('invalid: an expiry beyond maxTtl + maxClockSkew', () => {
  // A TTL within the limit, from a clock ahead by the most allowed, ending beyond the horizon.
  assert.match(checkRecord(live({ wall: NOW + BOUNDS.maxClockSkew, expiresAt: HORIZON + 1 }), NOW, BOUNDS), /expiresAt \d+ is beyond maxTtl plus maxClockSkew/)
  // From this clock, a TTL over the limit: that verdict first (see overOwnLimits).
  assert.match(checkRecord(live({ expiresAt: HORIZON + 1 }), NOW, BOUNDS), /TTL \d+ ms is longer than maxTtl/)
  assert.match(checkRecord(live({ expiresAt: Number.MAX_SAFE_INTEGER }), NOW, BOUNDS), /TTL \d+ ms is longer than maxTtl/)
  assert.match(checkRecord(del('k', { wall: NOW, expiresAt: HORIZON + 1 }), NOW, BOUNDS), /expiresAt .* beyond/, 'a tombstone horizon too')
})

test('invalid: a guard beyond maxTtl + maxClockSkew', () => {
  assert.match(checkRecord(live({ guardUntil: HORIZON + 1 }), NOW, BOUNDS), /guardUntil \d+ is beyond maxTtl plus maxClockSkew/)
  assert.match(checkRecord(del('k', { wall: NOW, expiresAt: NOW + 1000, guardUntil: HORIZON + 1 }), NOW, BOUNDS), /guardUntil/)
  // Checked even when the record itself has expired: the guard would keep a marker alive.
  assert.match(checkRecord(live({ wall: NOW - 20_000, expiresAt: NOW - 1, guardUntil: HORIZON + 1 }), NOW, BOUNDS), /guardUntil/)
})

test('invalid: a TTL (expiresAt - wall) longer than maxTtl + maxClockSkew', () => {
  const ttlLimit = BOUNDS.maxTtl + BOUNDS.maxClockSkew
  // Within the horizon from now, but written long before: the TTL it asked for was too long.
  assert.is(checkRecord(live({ wall: NOW - 1000, expiresAt: NOW - 1000 + ttlLimit }), NOW, BOUNDS), 'ok', 'exactly the limit')
  const verdict = checkRecord(live({ wall: NOW - 1000, expiresAt: NOW - 1000 + ttlLimit + 1 }), NOW, BOUNDS)
  assert.match(verdict, new RegExp(`TTL ${ttlLimit + 1} ms is longer than maxTtl`))
  // A tombstone's expiresAt is a horizon, not a TTL: no TTL check.
  assert.is(checkRecord(del('k', { wall: NOW - 50_000, expiresAt: HORIZON }), NOW, BOUNDS), 'ok')
})

test('invalid wins over expired: a malformed record is rejected even when expired', () => {
  const verdict = checkRecord(live({ wall: NOW + BOUNDS.maxClockSkew + 1, expiresAt: NOW - 1 }), NOW, BOUNDS)
  assert.is.not(verdict, 'expired')
  assert.is.not(verdict, 'ok')
})

test('zero clock skew: nothing ahead of now is accepted', () => {
  const strict: RecordBounds = { maxTtl: 1000, maxClockSkew: 0 }
  assert.is(checkRecord(live({ wall: NOW, expiresAt: NOW + 1000 }), NOW, strict), 'ok')
  assert.match(checkRecord(live({ wall: NOW + 1, expiresAt: NOW + 1000 }), NOW, strict), /maxClockSkew/)
  assert.match(checkRecord(live({ wall: NOW, expiresAt: NOW + 1001 }), NOW, strict), /TTL 1001 ms is longer than maxTtl/)
  assert.match(checkRecord(del('k', { wall: NOW, expiresAt: NOW + 1001 }), NOW, strict), /beyond/)
})

test('pure: the same inputs give the same verdict and the record is not modified', () => {
  const r = live({ guardUntil: NOW + 5 })
  const copy = { ...r }
  const a = checkRecord(r, NOW, BOUNDS)
  const b = checkRecord(r, NOW, BOUNDS)
  assert.is(a, b)
  assert.equal(r, copy)
})

test('checkRecord: a key or value beyond this node\'s own limits is refused with the limit named', () => {
  const bounds = { maxTtl: 60_000, maxClockSkew: 1000, maxKeyBytes: 8, maxValueBytes: 4 }
  const base = { key: 'k', value: new Uint8Array(4), expiresAt: 10_000, wall: 1000, counter: 0, origin: 'A', guardUntil: 0 }
  assert.is(checkRecord(base, 1000, bounds), 'ok')
  assert.match(checkRecord({ ...base, value: new Uint8Array(5) }, 1000, bounds), /maxValueBytes \(4\)/)
  assert.match(checkRecord({ ...base, key: 'ééééé' }, 1000, bounds), /maxKeyBytes \(8\)/)
})

test('checkRecord: a replicated key with a control character or DEL is refused, as a local one is', () => {
  for (const key of ['evil\u0000', 'a\nb', '\u001b[2J', 'del\u007f']) {
    assert.is(checkRecord(live({ key } as never), NOW, BOUNDS), 'key contains control characters', JSON.stringify(key))
  }
  assert.is(checkRecord(put('tab-free ключ 🔑', 'v', { wall: NOW, expiresAt: NOW + 10_000 }), NOW, BOUNDS), 'ok')
})

test('checkRecord: a replicated content type a put would refuse is refused (it could split a header)', () => {
  for (const contentType of ['', 'text/plain\r\nSet-Cookie: a=b', 'a\u0000', 'caf\u00e9', 'x'.repeat(257)]) {
    assert.is(checkRecord(live({ contentType } as never), NOW, BOUNDS), 'content type is not 1-256 printable ASCII characters', JSON.stringify(contentType))
  }
  assert.is(checkRecord(live({ contentType: 'text/plain; charset=utf-8' } as never), NOW, BOUNDS), 'ok')
})

test('breaksProtocol: only a key or content type no node accepts; verdicts from this node\'s own settings do not', () => {
  assert.ok(breaksProtocol(checkRecord(live({ key: 'a\nb' } as never), NOW, BOUNDS)))
  assert.ok(breaksProtocol(checkRecord(live({ contentType: 'a\nb' } as never), NOW, BOUNDS)))
  for (const r of [live({ wall: NOW + 60_000 }), live({ expiresAt: HORIZON + 1 }), live({ guardUntil: HORIZON + 1 })]) {
    const verdict = checkRecord(r, NOW, BOUNDS)
    assert.not.ok(verdict === 'ok' || verdict === 'expired', verdict)
    assert.not.ok(breaksProtocol(verdict), verdict)
  }
})

test('overOwnLimits: a value or TTL over this node\'s limits, within every rule of time; not a long key, a time or a foul key', () => {
  const small: RecordBounds = { ...BOUNDS, maxValueBytes: 4, maxKeyBytes: 8 }
  const big = 'value over 4 bytes'
  assert.ok(overOwnLimits(checkRecord(put('k', big, { wall: NOW, expiresAt: NOW + 10_000 }), NOW, small)))
  assert.ok(overOwnLimits(checkRecord(put('k', big, { wall: NOW - 20_000, expiresAt: NOW - 1 }), NOW, small)), 'expired too: it still supersedes')
  assert.ok(overOwnLimits(checkRecord(live({ wall: NOW - 10_000, expiresAt: NOW + BOUNDS.maxTtl }), NOW, BOUNDS)), 'a TTL over maxTtl')
  assert.ok(overOwnLimits(checkRecord(live({ expiresAt: NOW + 10 * BOUNDS.maxTtl }), NOW, BOUNDS)), 'a fresh one, its expiry beyond the horizon')
  for (const r of [
    live({ expiresAt: NOW + 10 * BOUNDS.maxTtl, guardUntil: HORIZON + 1 }), // a guard beyond the horizon
    live({ wall: NOW + 60_000, expiresAt: NOW + 10 * BOUNDS.maxTtl }), // a version from the future
    put('k', big, { wall: NOW + 60_000, expiresAt: NOW + 70_000 }), // a version from the future
    put('k', big, { wall: NOW + BOUNDS.maxClockSkew, expiresAt: HORIZON + 1 }), // an expiry beyond the horizon, the TTL within the limit
    put('k', big, { wall: NOW, expiresAt: NOW + 1, guardUntil: HORIZON + 1 }),
    put('a key over 8 bytes', big, { wall: NOW, expiresAt: NOW + 10_000 }), // no marker for a key this node refuses
    put('a\nb', big, { wall: NOW, expiresAt: NOW + 10_000 })
  ]) {
    const verdict = checkRecord(r, NOW, small)
    assert.not.ok(verdict === 'ok' || verdict === 'expired' || overOwnLimits(verdict), verdict)
  }
  assert.not.ok(overOwnLimits('ok'))
  assert.not.ok(overOwnLimits('expired'))
})

test.run()
