/** Validates the adapter's options once, by a pure function, and fills defaults. */
import { InvalidConfigError } from '../errors.ts'
import { MAX_TIMER_DELAY_MS } from '../config.ts'
import type { HttpNode, HttpOptions } from './index.ts'
import type { RateLimitOptions } from './rate-limit.ts'

export interface ResolvedHttpOptions {
  writeQuorum: number
  writeTimeout: number
  rateLimit: RateLimitOptions | false
  cors: string | readonly string[] | false
  maxBodyBytes: number
  watchKeepAlive: number
  watchValueMaxBytes: number
  signal?: AbortSignal
}

export const HTTP_DEFAULTS = {
  writeQuorum: 1,
  writeTimeout: 2000,
  rateLimit: { requestsPerSecond: 100, burst: 200 },
  cors: '*',
  watchKeepAlive: 15_000,
  watchValueMaxBytes: 64 * 1024
} as const

/** The longest quorum wait `put()` accepts. */
export const MAX_WRITE_TIMEOUT_MS = 600_000
/** Most requests a client may send at once above its rate. */
export const MAX_RATE_BURST = 1_000_000

const KNOWN_FIELDS = new Set(['writeQuorum', 'writeTimeout', 'rateLimit', 'cors', 'maxBodyBytes', 'watchKeepAlive', 'watchValueMaxBytes', 'signal'])

function int (value: unknown, field: string, def: number, min: number, max: number): number {
  if (value === undefined) return def
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(field, `expected an integer in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}

function rateLimit (value: unknown): RateLimitOptions | false {
  if (value === undefined) return { ...HTTP_DEFAULTS.rateLimit }
  if (value === false) return false
  if (value === null || typeof value !== 'object') {
    throw new InvalidConfigError('rateLimit', 'expected { requestsPerSecond, burst } or false')
  }
  for (const field of Object.keys(value)) {
    if (field !== 'requestsPerSecond' && field !== 'burst') throw new InvalidConfigError(`rateLimit.${field}`, 'unknown option')
  }
  const { requestsPerSecond, burst } = value as Record<string, unknown>
  if (typeof requestsPerSecond !== 'number' || !Number.isFinite(requestsPerSecond) || requestsPerSecond <= 0) {
    throw new InvalidConfigError('rateLimit.requestsPerSecond', `expected a positive number, got ${String(requestsPerSecond)}`)
  }
  return { requestsPerSecond, burst: int(burst, 'rateLimit.burst', Math.min(MAX_RATE_BURST, Math.max(1, Math.ceil(requestsPerSecond))), 1, MAX_RATE_BURST) }
}

function cors (value: unknown): string | readonly string[] | false {
  if (value === undefined) return HTTP_DEFAULTS.cors
  if (value === false) return false
  if (typeof value === 'string' && value !== '') return value
  if (Array.isArray(value) && value.length > 0 && value.every(o => typeof o === 'string' && o !== '')) return [...value]
  throw new InvalidConfigError('cors', "expected '*', an origin, a non-empty list of origins, or false")
}

/** Throws `InvalidConfigError` naming the bad field. */
export function resolveHttpOptions (node: HttpNode, init: HttpOptions = {}): ResolvedHttpOptions {
  if (init === null || typeof init !== 'object') throw new InvalidConfigError('options', 'expected an options object')
  for (const field of Object.keys(init)) {
    if (!KNOWN_FIELDS.has(field)) throw new InvalidConfigError(field, 'unknown option')
  }
  if (init.signal !== undefined && !(init.signal instanceof AbortSignal)) throw new InvalidConfigError('signal', 'expected an AbortSignal')
  return {
    writeQuorum: int(init.writeQuorum, 'writeQuorum', HTTP_DEFAULTS.writeQuorum, 0, 1000),
    writeTimeout: int(init.writeTimeout, 'writeTimeout', HTTP_DEFAULTS.writeTimeout, 1, MAX_WRITE_TIMEOUT_MS),
    rateLimit: rateLimit(init.rateLimit),
    cors: cors(init.cors),
    maxBodyBytes: int(init.maxBodyBytes, 'maxBodyBytes', node.config.maxValueBytes, 0, Number.MAX_SAFE_INTEGER),
    watchKeepAlive: int(init.watchKeepAlive, 'watchKeepAlive', HTTP_DEFAULTS.watchKeepAlive, 10, MAX_TIMER_DELAY_MS),
    watchValueMaxBytes: int(init.watchValueMaxBytes, 'watchValueMaxBytes', HTTP_DEFAULTS.watchValueMaxBytes, 0, Number.MAX_SAFE_INTEGER),
    signal: init.signal
  }
}

/** Where `startHttpServer` listens; throws `InvalidConfigError` naming the bad field. */
export function resolveListenOptions (port: unknown, host: unknown): { port: number, host: string } {
  if (host !== undefined && (typeof host !== 'string' || host === '')) throw new InvalidConfigError('host', `expected a host name or address, got ${typeof host === 'string' ? '""' : typeof host}`)
  return { port: int(port, 'port', 0, 0, 65535), host: host ?? '127.0.0.1' }
}
