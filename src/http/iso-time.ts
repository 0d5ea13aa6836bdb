/**
 * Epoch milliseconds as an RFC 3339 / ISO 8601 UTC timestamp with
 * milliseconds (`2025-01-31T12:00:00.000Z`), exactly as
 * `Date.prototype.toISOString` writes it, at a fraction of its cost: a GET
 * answers with two of these, and V8 formats dates through `printf`.
 *
 * The date part is cached per day (the last two days asked for: an entry's
 * creation and expiry are often on different days); the time of day comes
 * from tables of zero-padded numbers.
 */

const DAY_MS = 86_400_000
/** 10000-01-01T00:00:00.000Z: from here on `toISOString` writes six-digit years. */
const YEAR_10000_MS = 253_402_300_800_000

const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'))
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'))

let dayA = -1
let prefixA = ''
let dayB = -1
let prefixB = ''

export function isoTime (epochMs: number): string {
  if (!Number.isInteger(epochMs) || epochMs < 0 || epochMs >= YEAR_10000_MS) return new Date(epochMs).toISOString()
  const day = Math.floor(epochMs / DAY_MS)
  let prefix: string
  if (day === dayA) {
    prefix = prefixA
  } else if (day === dayB) {
    prefix = prefixB
  } else {
    prefix = datePrefix(day)
    dayB = dayA
    prefixB = prefixA
    dayA = day
    prefixA = prefix
  }
  let t = epochMs - day * DAY_MS
  const ms = t % 1000
  t = (t - ms) / 1000
  const s = t % 60
  t = (t - s) / 60
  const m = t % 60
  const h = (t - m) / 60
  return `${prefix}${PAD2[h]}:${PAD2[m]}:${PAD2[s]}.${PAD3[ms]}Z`
}

/** `YYYY-MM-DDT` of a day counted from 1970-01-01 (days to civil date, H. Hinnant's algorithm). */
function datePrefix (day: number): string {
  const z = day + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  return `${String(year).padStart(4, '0')}-${PAD2[month]}-${PAD2[d]}T`
}
