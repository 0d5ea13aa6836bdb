/**
 * Checks on records received from peers, before they are stored or
 * forwarded. Pure: the caller passes the time.
 */
import { hasControlCharacters, isContentType } from '../validation.ts'
import type { StoreRecord } from '../store/memory-store.ts'

export interface RecordBounds {
  maxTtl: number
  maxClockSkew: number
  /** This node's key limit (the decoder only enforces the hard limit). */
  maxKeyBytes?: number
  /** This node's value limit (the decoder only enforces the hard limit). */
  maxValueBytes?: number
}

/** The verdict on a key no node accepts (control characters): no honest writer sends one. */
export const FOUL_KEY = 'key contains control characters'
/** The verdict on a content type no node's put accepts (see `validateContentType`): no honest writer sends one. */
export const FOUL_CONTENT_TYPE = 'content type is not 1-256 printable ASCII characters'

/**
 * Whether a verdict (neither `'ok'` nor `'expired'`) breaks a rule every
 * node holds to, rather than one of this node's own settings (its limits,
 * its maximum TTL, the clock skew it allows): a record can fail those in
 * good faith, sent by a node configured otherwise or with its clock off.
 */
export function breaksProtocol (verdict: string): boolean {
  return verdict === FOUL_KEY || verdict === FOUL_CONTENT_TYPE
}

/**
 * Whether a verdict refuses a record only for this node's own limits on a
 * value (over `maxValueBytes`, or a TTL over `maxTtl`), its version and
 * guard being within the rules of time (`checkRecord` checks those first;
 * with a TTL over `maxTtl` its expiry may lie beyond this node's horizon,
 * the marker of it must not). Such a record is a real, newer version of a
 * key this node can hold, but not with that value: it still supersedes
 * older versions here (`MemoryStore.refuse`), rather than leaving them
 * served as current. (A key over `maxKeyBytes` is not one: no older version
 * of it is here, and a marker for it would take memory no limit bounds.)
 * The verdicts are `checkRecord`'s own texts; its tests pin both sides.
 */
export function overOwnLimits (verdict: string): boolean {
  return OWN_LIMITS.test(verdict)
}

const OWN_LIMITS = /^(value of \d+ bytes is larger than maxValueBytes|TTL \d+ ms is longer than maxTtl)/

/**
 * `'ok'`, `'expired'`, or the reason the record is not acceptable here.
 * A record with a reason is dropped and counted on its own; the rest of its
 * message or sync frame still counts. An expired one is applied all the
 * same: as a newer version it removes an older one the node may hold (the
 * store keeps no expired value, only a marker while it is needed).
 */
export function checkRecord (rec: StoreRecord, now: number, bounds: RecordBounds): 'ok' | 'expired' | string {
  const horizon = now + bounds.maxTtl + bounds.maxClockSkew
  // The rule local keys follow (decoded text is always well-formed): such a key could be neither read nor deleted here.
  if (hasControlCharacters(rec.key)) return FOUL_KEY
  // Else `get()` would hand out what a put refuses (a line break, say: a header split in two).
  if (rec.contentType !== undefined && !isContentType(rec.contentType)) return FOUL_CONTENT_TYPE
  // The version's time and its guard first, then the key: a verdict after
  // those is `overOwnLimits` (a value's TTL over maxTtl, checked before its
  // expiry is, is one: the caller keeps its marker no longer than the horizon).
  if (rec.wall > now + bounds.maxClockSkew) return `version time ${rec.wall} is more than maxClockSkew ahead of ${now}`
  if (rec.guardUntil > horizon) return `guardUntil ${rec.guardUntil} is beyond maxTtl plus maxClockSkew from ${now}`
  if (bounds.maxKeyBytes !== undefined && rec.key.length > bounds.maxKeyBytes / 3 && Buffer.byteLength(rec.key) > bounds.maxKeyBytes) return `key is longer than maxKeyBytes (${bounds.maxKeyBytes})`
  if (rec.value !== null && rec.expiresAt - rec.wall > bounds.maxTtl + bounds.maxClockSkew) return `TTL ${rec.expiresAt - rec.wall} ms is longer than maxTtl`
  if (rec.expiresAt > horizon) return `expiresAt ${rec.expiresAt} is beyond maxTtl plus maxClockSkew from ${now}`
  if (bounds.maxValueBytes !== undefined && rec.value !== null && rec.value.length > bounds.maxValueBytes) return `value of ${rec.value.length} bytes is larger than maxValueBytes (${bounds.maxValueBytes})`
  if (rec.expiresAt <= now) return 'expired'
  return 'ok'
}
