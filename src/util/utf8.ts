/**
 * UTF-8 helpers for the hot paths (key checks, the wire codec): short
 * strings, nearly always ASCII, handled in plain JavaScript.
 *
 * Why not `Buffer.byteLength`, `buf.write` and `buf.toString`: each is a
 * call into native code, and on a node that handles a write now and then
 * (its caches cold, other processes running in between) a handful of them
 * per record cost several microseconds; a loop over 16 characters costs
 * next to nothing and compiles into its caller. Anything that is not ASCII
 * still goes through `Buffer`, whose results these match exactly.
 */
import { isUtf8 } from 'node:buffer'

/** Strings up to this many UTF-16 code units are encoded here; longer ones by `Buffer`. */
const SHORT = 64

/**
 * UTF-8 length of `s`, as `Buffer.byteLength(s)` counts it: a surrogate
 * pair 4 bytes, a lone surrogate 3 (it is written as U+FFFD).
 */
export function utf8Length (s: string): number {
  let bytes = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) {
      bytes += 1
    } else if ((c & 0xfc00) === 0xd800 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2
      i++
    } else {
      bytes += 2
    }
  }
  return bytes
}

/**
 * Writes `s`, whose UTF-8 length is `bytes`, into `buf` at `pos`; returns
 * the bytes written. Same bytes as `buf.write(s, pos, bytes, 'utf8')`.
 */
export function writeUtf8 (buf: Buffer, pos: number, s: string, bytes: number): number {
  if (bytes === s.length && bytes <= SHORT) {
    // ASCII: one byte per code unit
    for (let i = 0; i < bytes; i++) buf[pos + i] = s.charCodeAt(i)
    return bytes
  }
  return buf.write(s, pos, bytes, 'utf8')
}

/**
 * The string `buf[start, end)` holds, or `undefined` when those bytes are
 * not valid UTF-8. `buf` is a `Buffer` over the same memory (the decoder
 * makes one per message).
 */
export function readUtf8 (buf: Buffer, start: number, end: number): string | undefined {
  if (end - start <= SHORT) {
    let ascii = true
    for (let i = start; i < end; i++) {
      if (buf[i] >= 0x80) { ascii = false; break }
    }
    if (ascii) return buf.toString('latin1', start, end)
  }
  const bytes = buf.subarray(start, end)
  return isUtf8(bytes) ? bytes.toString('utf8') : undefined
}

/**
 * The text `bytes` hold, or `undefined` when they are not valid UTF-8: how a
 * value is shown as text. A leading byte-order mark stays (a `TextDecoder`
 * drops it unless told not to), so the text encodes back to the same bytes.
 */
export function utf8Text (bytes: Uint8Array): string | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return isUtf8(buf) ? buf.toString('utf8') : undefined
}

/** A value as JSON carries it: its text when valid UTF-8 (see {@link utf8Text}), else base64. */
export function textOrBase64 (bytes: Uint8Array): { value: string, encoding: 'utf8' | 'base64' } {
  const text = utf8Text(bytes)
  return text === undefined
    ? { value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'), encoding: 'base64' }
    : { value: text, encoding: 'utf8' }
}

/** Entries of a `Utf8Cache` (a power of two). */
const CACHE_SLOTS = 32
/** Longest byte sequence a `Utf8Cache` keeps. */
const CACHE_MAX_BYTES = 128

/**
 * Strings that recur in messages (the writers' peer ids, content types),
 * looked up by their bytes: a hit costs a comparison of the bytes instead
 * of decoding them, and hands out the same string every time, so later
 * comparisons of it (`===`, `Map` lookups) are cheap too. Direct-mapped:
 * a miss decodes as `readUtf8` does and replaces what the slot held, so
 * whatever bytes arrive, the cache stays `CACHE_SLOTS` small strings.
 */
export class Utf8Cache {
  private readonly bytes: Array<Uint8Array | undefined> = new Array(CACHE_SLOTS).fill(undefined)
  private readonly strings: string[] = new Array(CACHE_SLOTS).fill('')

  /** As `readUtf8`. */
  read (buf: Buffer, start: number, end: number): string | undefined {
    const n = end - start
    if (n === 0 || n > CACHE_MAX_BYTES) return readUtf8(buf, start, end)
    const slot = (n ^ buf[end - 1] ^ (buf[start + (n >> 1)] << 2)) & (CACHE_SLOTS - 1)
    const kept = this.bytes[slot]
    if (kept !== undefined && kept.length === n) {
      let i = 0
      while (i < n && kept[i] === buf[start + i]) i++
      if (i === n) return this.strings[slot]
    }
    const s = readUtf8(buf, start, end)
    if (s !== undefined) {
      const copy = new Uint8Array(n)
      copy.set(buf.subarray(start, end))
      this.bytes[slot] = copy
      this.strings[slot] = s
    }
    return s
  }
}
