/**
 * Checks on what callers pass to `put`/`get`/`delete`. Pure functions that
 * throw the named errors; the HTTP adapter relies on the same checks through
 * the public API.
 */
import { InvalidArgumentError, InvalidKeyError, InvalidTtlError, InvalidValueError, ValueTooLargeError } from './errors.ts'
import { utf8Length } from './util/utf8.ts'
import type { Config } from './config.ts'

const encoder = new TextEncoder()

/**
 * The key, checked: a non-empty string of valid Unicode (no lone
 * surrogate), without C0 control characters or DEL (they break logs,
 * terminals and URLs), at most `maxKeyBytes` bytes of UTF-8. It runs on
 * every put: loops over a short key cost less than a regular expression and
 * `Buffer.byteLength`, calls into native code.
 */
export function validateKey (key: unknown, maxKeyBytes: number): string {
  if (typeof key !== 'string') throw new InvalidKeyError(`key must be a string, got ${typeof key}`)
  if (key.length === 0) throw new InvalidKeyError('key must not be empty')
  if (!key.isWellFormed()) throw new InvalidKeyError('key is not valid Unicode (lone surrogate)')
  if (hasControlCharacters(key)) throw new InvalidKeyError('key must not contain control characters')
  const bytes = utf8Length(key)
  if (bytes > maxKeyBytes) throw new InvalidKeyError(`key is ${bytes} bytes of UTF-8, longer than maxKeyBytes (${maxKeyBytes})`)
  return key
}

/** Whether `key` holds a C0 control character or DEL (refused in keys, local or replicated). */
export function hasControlCharacters (key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}

export function validateTtl (ttl: unknown, config: Pick<Config, 'minTtl' | 'maxTtl'>): number {
  if (typeof ttl !== 'number' || !Number.isInteger(ttl)) {
    throw new InvalidTtlError(`ttl must be an integer number of milliseconds, got ${typeof ttl === 'number' ? ttl : typeof ttl}`)
  }
  if (ttl < config.minTtl || ttl > config.maxTtl) {
    throw new InvalidTtlError(`ttl ${ttl} ms is outside the allowed range [${config.minTtl}, ${config.maxTtl}] ms`)
  }
  return ttl
}

/**
 * The value as bytes, checked against `maxValueBytes`. A `Uint8Array` is
 * returned as it is, not copied: the store copies what it keeps, and a put
 * replicates the store's copy, so later changes by the caller leak nowhere.
 */
export function toValueBytes (value: unknown, maxValueBytes: number): Uint8Array {
  let bytes: Uint8Array
  if (typeof value === 'string') {
    if (!value.isWellFormed()) throw new InvalidValueError('string value is not valid Unicode (lone surrogate); pass a Uint8Array for arbitrary bytes')
    bytes = encoder.encode(value)
  } else if (value instanceof Uint8Array) {
    bytes = value
  } else {
    throw new InvalidValueError(`value must be a string or Uint8Array, got ${value === null ? 'null' : typeof value}`)
  }
  if (bytes.length > maxValueBytes) throw new ValueTooLargeError(bytes.length, maxValueBytes)
  return bytes
}

const CONTENT_TYPE_RE = /^[\x20-\x7e]{1,256}$/

/** Whether `contentType` is one a put may give: 1-256 printable ASCII characters (it can go in an HTTP header as it is). */
export function isContentType (contentType: string): boolean {
  return CONTENT_TYPE_RE.test(contentType)
}

export function validateContentType (contentType: unknown): string | undefined {
  if (contentType === undefined) return undefined
  if (typeof contentType !== 'string' || !isContentType(contentType)) {
    throw new InvalidArgumentError('contentType must be 1-256 printable ASCII characters')
  }
  return contentType
}

export function validateCount (name: string, value: unknown, def: number, min: number, max: number): number {
  if (value === undefined) return def
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}
