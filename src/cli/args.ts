/**
 * Shared command-line parsing: `node:util` parseArgs with errors turned into
 * {@link UsageError}s, and typed readers that take a flag, fall back to
 * environment variables, and name where a bad value came from
 * (`--http-port` or `PORT`) so the user knows what to fix.
 */
import { parseArgs } from 'node:util'
import { UsageError } from './errors.ts'
import type { ParseArgsOptionsConfig } from 'node:util'

export type Env = Record<string, string | undefined>
export type FlagValues = Record<string, string | boolean | Array<string | boolean> | undefined>

export interface ParsedCommandLine {
  values: FlagValues
  positionals: string[]
}

/** The `--help` / `-h` flag every command takes. */
export const HELP_FLAG: ParseArgsOptionsConfig = { help: { type: 'boolean', short: 'h' } }

/**
 * Parses `argv` for `command` (used in messages). Unknown flags, missing
 * values and stray positionals become `UsageError`s. `--no-<flag>` works for
 * every boolean flag.
 */
export function parseCommandLine (command: string, argv: string[], options: ParseArgsOptionsConfig, maxPositionals = 0): ParsedCommandLine {
  let parsed: { values: FlagValues, positionals: string[] }
  try {
    parsed = parseArgs({ args: argv, options: { ...HELP_FLAG, ...options }, allowPositionals: true, allowNegative: true, strict: true }) as unknown as ParsedCommandLine
  } catch (err: any) {
    throw new UsageError(describeParseError(err), command)
  }
  if (parsed.values.help !== true && parsed.positionals.length > maxPositionals) {
    const extra = parsed.positionals[maxPositionals]
    throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`, command)
  }
  return parsed
}

function describeParseError (err: { code?: string, message?: string }): string {
  const message = String(err?.message ?? err)
  // Node quotes the option as '--url', '-u, --url <value>' or '--no-x': keep the long name.
  const quoted = /'(-[^']*)'/.exec(message)?.[1]
  const option = quoted === undefined ? undefined : (/--[^\s,]+/.exec(quoted)?.[0] ?? quoted.split(/[\s,]/)[0])
  switch (err?.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option ?? message}`
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      // Covers both "--port needs a value" and "--no-x does not take one".
      if (option !== undefined && /argument missing/.test(message)) return `option ${option} needs a value`
      if (option !== undefined && /does not take an argument/.test(message)) return `option ${option} does not take a value`
      if (option !== undefined && /ambiguous/.test(message)) return `option ${option} needs a value; for one that starts with -, write ${option}=<value>`
      return message
    default:
      return message
  }
}

/** The environment variable that mirrors a `start` flag: `--max-ttl` -> `REPRAM_MAX_TTL`. */
export function envName (flag: string): string {
  return 'REPRAM_' + flag.toUpperCase().replace(/-/g, '_')
}

/** A raw value and where it came from, e.g. `--http-port` or `PORT`. */
export interface Setting<T = string> {
  value: T
  source: string
}

/**
 * The flag's value if given, else the first set environment variable of
 * `envNames` (empty strings count as unset), else undefined.
 */
export function stringSetting (values: FlagValues, flag: string, env: Env, envNames: string[] = [envName(flag)]): Setting | undefined {
  const raw = values[flag]
  if (typeof raw === 'string') return { value: raw, source: `--${flag}` }
  if (Array.isArray(raw) && raw.length > 0) return { value: String(raw[raw.length - 1]), source: `--${flag}` }
  for (const name of envNames) {
    const value = env[name]
    if (value !== undefined && value.trim() !== '') return { value: value.trim(), source: name }
  }
  return undefined
}

/**
 * A repeatable flag whose values may also be comma-separated
 * (`--listen a --listen b` or `--listen a,b`); falls back to a
 * comma-separated environment variable. Flags replace the environment.
 */
export function listSetting (values: FlagValues, flag: string, env: Env, envNames: string[] = [envName(flag)]): Setting<string[]> | undefined {
  const raw = values[flag]
  const flagged = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter((v): v is string => typeof v === 'string')
  if (flagged.length > 0) return { value: splitList(flagged), source: `--${flag}` }
  for (const name of envNames) {
    const value = env[name]
    if (value !== undefined && value.trim() !== '') return { value: splitList([value]), source: name }
  }
  return undefined
}

/** Splits on commas (multiaddrs and URLs have none), trims, drops empties: `"a, b,"` -> `['a', 'b']`. */
export function splitList (items: string[]): string[] {
  return items.flatMap(item => item.split(',')).map(s => s.trim()).filter(s => s !== '')
}

/** A boolean flag (`--x` / `--no-x`), else the environment variable read by {@link parseBoolean}. */
export function booleanSetting (values: FlagValues, flag: string, env: Env, envNames: string[] = [envName(flag)]): Setting<boolean> | undefined {
  const raw = values[flag]
  if (typeof raw === 'boolean') return { value: raw, source: raw ? `--${flag}` : `--no-${flag}` }
  const fromEnv = stringSetting({}, flag, env, envNames)
  if (fromEnv === undefined) return undefined
  return { value: parseBoolean(fromEnv), source: fromEnv.source }
}

const TRUE = new Set(['1', 'true', 'yes', 'on'])
const FALSE = new Set(['0', 'false', 'no', 'off'])

export function parseBoolean (s: Setting): boolean {
  const v = s.value.toLowerCase()
  if (TRUE.has(v)) return true
  if (FALSE.has(v)) return false
  throw new UsageError(`${s.source}: expected 1 or 0 (true/false, yes/no, on/off), got ${JSON.stringify(s.value)}`)
}

/** An integer within `[min, max]`. */
export function parseInteger (s: Setting, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
  const trimmed = s.value.replace(/_/g, '')
  const n = /^[+-]?\d+$/.test(trimmed) ? Number(trimmed) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`
    throw new UsageError(`${s.source}: expected an integer ${range}, got ${JSON.stringify(s.value)}`)
  }
  return n
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * A duration, seconds by default like the HTTP API's `X-TTL`: `60`, `0.5`,
 * or with a unit `250ms`, `30s`, `5m`, `2h`, `7d`. Returns whole milliseconds.
 */
export function parseDurationMs (s: Setting, minMs = 0, maxMs = Number.MAX_SAFE_INTEGER): number {
  const match = /^(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)?$/i.exec(s.value.trim())
  const ms = match === null ? NaN : Math.round(Number(match[1]) * UNIT_MS[(match[2] ?? 's').toLowerCase()])
  if (!Number.isSafeInteger(ms) || ms < minMs || ms > maxMs) {
    const least = minMs === 1 ? ' above 0' : minMs > 1 ? ` of at least ${minMs / 1000} s` : ''
    const most = maxMs === Number.MAX_SAFE_INTEGER ? '' : `${least === '' ? '' : ' and'} of at most ${maxMs / 1000} s`
    throw new UsageError(`${s.source}: expected a duration${least}${most} in seconds (e.g. 60, 0.5) or with a unit (250ms, 30s, 5m, 2h, 7d), got ${JSON.stringify(s.value)}`)
  }
  return ms
}

/** An http(s) URL, without trailing slashes. */
export function parseHttpUrl (s: Setting): string {
  let url: URL
  try {
    url = new URL(s.value)
  } catch {
    throw new UsageError(`${s.source}: expected a URL such as http://127.0.0.1:8080, got ${JSON.stringify(s.value)}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${s.source}: expected an http:// or https:// URL, got ${JSON.stringify(s.value)}`)
  }
  // Request paths are appended to it: a query or fragment would swallow them, and fetch refuses credentials in a URL.
  const extra = url.search !== '' ? 'a query' : url.hash !== '' ? 'a fragment' : url.username !== '' || url.password !== '' ? 'a user name or password' : undefined
  if (extra !== undefined) {
    throw new UsageError(`${s.source}: expected the node's base URL, such as http://127.0.0.1:8080, without ${extra}; got ${JSON.stringify(s.value)}`)
  }
  return url.href.replace(/\/+$/, '')
}

/** Default node URL of the client commands. */
export const DEFAULT_URL = 'http://127.0.0.1:8080'

/** The `--url` flag(s) of client commands, else `REPRAM_URL` (comma-separated), else the default. */
export function urlSettings (values: FlagValues, env: Env): string[] {
  const urls = listSetting(values, 'url', env, ['REPRAM_URL'])
  if (urls === undefined) return [DEFAULT_URL]
  if (urls.value.length === 0) throw new UsageError(`${urls.source}: expected one or more URLs (comma-separated), such as http://127.0.0.1:8080; got none`)
  return urls.value.map(value => parseHttpUrl({ value, source: urls.source }))
}
