/**
 * Checks on records received from peers, before they are stored or
 * forwarded. Pure: the caller passes the time.
 */
import type { StoreRecord } from '../store/memory-store.ts'

export interface RecordBounds {
  maxTtl: number
  maxClockSkew: number
}

/**
 * `'ok'`, `'expired'` (harmless: dropped and counted), or the reason the
 * record is invalid (the message carrying it is rejected).
 */
export function checkRecord (rec: StoreRecord, now: number, bounds: RecordBounds): 'ok' | 'expired' | string {
  const horizon = now + bounds.maxTtl + bounds.maxClockSkew
  if (rec.wall > now + bounds.maxClockSkew) return `version time ${rec.wall} is more than maxClockSkew ahead of ${now}`
  if (rec.expiresAt > horizon) return `expiresAt ${rec.expiresAt} is beyond maxTtl plus maxClockSkew from ${now}`
  if (rec.guardUntil > horizon) return `guardUntil ${rec.guardUntil} is beyond maxTtl plus maxClockSkew from ${now}`
  if (rec.value !== null && rec.expiresAt - rec.wall > bounds.maxTtl + bounds.maxClockSkew) return `TTL ${rec.expiresAt - rec.wall} ms is longer than maxTtl`
  if (rec.expiresAt <= now) return 'expired'
  return 'ok'
}
