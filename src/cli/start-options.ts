/**
 * The flags of `repram start`, their environment variables, and their
 * translation into `RepramNodeInit` plus HTTP server options. Pure: no I/O
 * (the PSK file is only named here and read by the command).
 *
 * Every flag `--foo-bar` has the environment variable `REPRAM_FOO_BAR`; a
 * few also answer to the names the earlier REPRAM deployments used (`PORT`,
 * `REPRAM_BOOTSTRAP_PEERS`). Flags win over the environment, which wins over
 * the defaults. Durations are seconds, like the HTTP API's `X-TTL`.
 */
import {
  booleanSetting, envName, listSetting, parseDurationMs, parseInteger, stringSetting
} from './args.ts'
import { UsageError } from './errors.ts'
import { MAX_RATE_BURST, MAX_WRITE_TIMEOUT_MS } from '../http/options.ts'
import type { Env, FlagValues, Setting } from './args.ts'
import type { RepramNodeInit } from '../config.ts'
import type { ParseArgsOptionsConfig } from 'node:util'

interface FlagSpec {
  name: string
  type: 'string' | 'boolean'
  multiple?: boolean
  /** Placeholder of the value in the help, e.g. `S` (seconds). */
  arg?: string
  help: string
  /** Shown as `[default: ...]`. */
  default?: string
  /** Environment variables read, in order, when the flag is absent. @default [envName(name)] */
  env?: string[]
  /** The `RepramNodeInit` field it sets, to point `InvalidConfigError`s at the flag. */
  field?: string
}

/** Every flag of `repram start`, in help order. */
export const START_FLAGS: FlagSpec[] = [
  { name: 'network', type: 'string', arg: 'NAME', help: 'swarm name; only nodes of the same network replicate', default: 'repram', field: 'network' },
  { name: 'listen', type: 'string', multiple: true, arg: 'ADDR', help: 'libp2p multiaddr(s) to listen on; repeat or comma-separate', default: '/ip4/0.0.0.0/tcp/0', field: 'listen' },
  { name: 'announce', type: 'string', multiple: true, arg: 'ADDR', help: 'TCP multiaddr(s) to announce instead of the listen addresses, with the port peers reach', field: 'announce' },
  { name: 'mdns', type: 'boolean', help: 'find peers on the LAN with mDNS (--no-mdns or REPRAM_MDNS=0: off)', default: 'on', field: 'mdns' },
  { name: 'mdns-interval', type: 'string', arg: 'S', help: 'seconds between mDNS announcements', default: '10', field: 'mdns' },
  { name: 'bootstrap', type: 'string', multiple: true, arg: 'ADDR', help: 'peer(s) to connect to, /ip4/…/tcp/…/p2p/<peer id>; repeat or comma-separate', env: ['REPRAM_BOOTSTRAP', 'REPRAM_BOOTSTRAP_PEERS'], field: 'bootstrap' },
  { name: 'dht', type: 'boolean', help: 'find peers through a private Kademlia DHT', default: 'off', field: 'dht' },
  { name: 'http', type: 'boolean', help: 'serve the HTTP API (--no-http turns it off)', default: 'on' },
  { name: 'http-port', type: 'string', arg: 'N', help: 'HTTP API port; 0 picks a free one', default: '8080', env: ['REPRAM_HTTP_PORT', 'PORT'] },
  { name: 'http-host', type: 'string', arg: 'HOST', help: 'HTTP API interface; 0.0.0.0 exposes it to the network', default: '127.0.0.1' },
  { name: 'default-ttl', type: 'string', arg: 'S', help: 'TTL of writes that name none, seconds', default: '3600', field: 'defaultTtl' },
  { name: 'min-ttl', type: 'string', arg: 'S', help: 'smallest TTL accepted, seconds', default: '1', field: 'minTtl' },
  { name: 'max-ttl', type: 'string', arg: 'S', help: 'largest TTL accepted, seconds', default: '604800 (7 days)', field: 'maxTtl' },
  { name: 'max-value-bytes', type: 'string', arg: 'N', help: 'largest value, bytes', default: '1048576', field: 'maxValueBytes' },
  { name: 'max-key-bytes', type: 'string', arg: 'N', help: 'largest key, bytes of UTF-8', default: '512', field: 'maxKeyBytes' },
  { name: 'max-entries', type: 'string', arg: 'N', help: 'most live entries held', default: '1000000', field: 'maxEntries' },
  { name: 'max-bytes', type: 'string', arg: 'N', help: 'most bytes (keys + values) held', default: '268435456', field: 'maxBytes' },
  { name: 'max-clock-skew', type: 'string', arg: 'S', help: 'how far a peer\'s clock may run ahead, seconds', default: '30', field: 'maxClockSkew' },
  { name: 'sync-interval', type: 'string', arg: 'S', help: 'seconds between anti-entropy syncs with a random peer; 0 disables', default: '30', field: 'syncInterval' },
  { name: 'sync-idle-timeout', type: 'string', arg: 'S', help: 'seconds a sync round may go with no data moving before it is abandoned', default: '30', field: 'syncIdleTimeout' },
  { name: 'write-quorum', type: 'string', arg: 'N', help: 'other nodes that must confirm an HTTP write for a 201 (else 202)', default: '1' },
  { name: 'write-timeout', type: 'string', arg: 'S', help: 'how long an HTTP write waits for its quorum, seconds', default: '2' },
  { name: 'rate-limit', type: 'string', arg: 'N', help: 'HTTP requests per second per client address; 0 turns the limit off', default: '100' },
  { name: 'rate-burst', type: 'string', arg: 'N', help: 'HTTP requests a client may send at once above the rate', default: 'twice --rate-limit' },
  { name: 'cors', type: 'string', arg: 'ORIGINS', help: 'origins allowed by CORS: *, origin(s) comma-separated, or off', default: '*' },
  { name: 'identity', type: 'string', arg: 'FILE', help: 'private key file; created when missing, keeps the peer id across restarts', field: 'identityFile' },
  { name: 'psk', type: 'string', arg: 'FILE', help: 'pre-shared key file of a private swarm (/key/swarm/psk/1.0.0/ format)', field: 'psk' },
  { name: 'json', type: 'boolean', help: 'print one JSON object per line (startup info first) instead of text' },
  { name: 'verbose', type: 'boolean', help: 'also log every change (set, delete, expire)' }
]

/** `parseArgs` options of `repram start`. */
export function startParseOptions (): ParseArgsOptionsConfig {
  const out: ParseArgsOptionsConfig = {}
  for (const f of START_FLAGS) out[f.name] = f.multiple === true ? { type: f.type, multiple: true } : { type: f.type }
  out.verbose.short = 'v'
  return out
}

function envOf (f: FlagSpec): string[] {
  return f.env ?? [envName(f.name)]
}

/**
 * The options part of `repram start --help`, generated from
 * {@link START_FLAGS} so that no flag or variable goes undocumented.
 */
export function startFlagsHelp (): string {
  const rows = START_FLAGS.map(f => {
    const left = f.type === 'boolean'
      ? (f.default === 'on' ? `--[no-]${f.name}` : `--${f.name}`)
      : `--${f.name} ${f.arg ?? 'VALUE'}`
    const notes = [`env ${envOf(f).join(', ')}`]
    if (f.default !== undefined) notes.push(`default ${f.default}`)
    return { left, help: f.help, notes: notes.join('; ') }
  })
  rows.push({ left: '-h, --help', help: 'show this help', notes: '' })
  const width = Math.max(...rows.map(r => r.left.length)) + 2
  return rows.map(r => `  ${r.left.padEnd(width)}${r.help}` + (r.notes === '' ? '' : `\n  ${' '.repeat(width)}(${r.notes})`)).join('\n')
}

/** The flag (and env names) behind a `RepramNodeInit` field such as `maxTtl` or `bootstrap[1]`. */
export function flagForField (field: string): string | undefined {
  const base = field.replace(/\[.*$/, '').replace(/\..*$/, '')
  const specs = START_FLAGS.filter(f => f.field === base)
  if (specs.length === 0) return undefined
  return specs.map(f => `--${f.name} / ${envOf(f).join(' / ')}`).join(', ')
}

/** Adjustments a host script (e.g. the example node) makes to the defaults. */
export interface StartDefaults {
  /** mDNS when neither flag nor env says. @default true */
  mdns?: boolean
  /** Listen addresses when neither flag nor env says. @default the node's (all interfaces, random port) */
  listen?: string[]
  /** HTTP port when neither flag nor env says. @default 8080 */
  httpPort?: number
  /** When the HTTP port is taken, serve on a free port instead of failing. @default false */
  httpPortFallback?: boolean
  /** Print curl examples after startup. @default false */
  hints?: boolean
  /** First word of the startup banner. @default 'repram node' */
  title?: string
}

export interface HttpOptions {
  port: number
  host: string
  writeQuorum: number
  writeTimeout: number
  /** Undefined: the adapter's default. */
  rateLimit?: { requestsPerSecond: number, burst: number } | false
  /** Undefined: the adapter's default. */
  cors?: string | string[] | false
  portFallback: boolean
}

export interface StartOptions {
  /** For `new RepramNode()`, without `psk` (see `pskFile`). */
  init: RepramNodeInit
  pskFile?: Setting
  http: HttpOptions | false
  json: boolean
  verbose: boolean
  hints: boolean
  title: string
}

/** The flags that configure the HTTP API. */
const HTTP_FLAGS = new Set(['http-port', 'http-host', 'write-quorum', 'write-timeout', 'rate-limit', 'rate-burst', 'cors'])

/** Resolves flags, then environment, then defaults. Throws `UsageError` naming the flag or variable. */
export function resolveStartOptions (values: FlagValues, env: Env, defaults: StartDefaults = {}): StartOptions {
  const spec = (name: string): FlagSpec => START_FLAGS.find(f => f.name === name) as FlagSpec
  const str = (name: string): Setting | undefined => stringSetting(values, name, env, envOf(spec(name)))
  const list = (name: string): Setting<string[]> | undefined => listSetting(values, name, env, envOf(spec(name)))
  const bool = (name: string): boolean | undefined => booleanSetting(values, name, env, envOf(spec(name)))?.value
  const duration = (name: string, min = 0, max?: number): number | undefined => {
    const s = str(name)
    return s === undefined ? undefined : parseDurationMs(s, min, max)
  }
  const integer = (name: string, min: number, max?: number): number | undefined => {
    const s = str(name)
    return s === undefined ? undefined : parseInteger(s, min, max)
  }

  const init: RepramNodeInit = {}
  const network = str('network')
  if (network !== undefined) init.network = network.value
  const listen = list('listen')
  if (listen !== undefined) init.listen = listen.value
  else if (defaults.listen !== undefined) init.listen = defaults.listen
  const announce = list('announce')
  if (announce !== undefined) init.announce = announce.value
  const bootstrap = list('bootstrap')
  if (bootstrap !== undefined) {
    for (const addr of bootstrap.value) {
      if (!addr.startsWith('/') || !/\/p2p\/[^/]+$/.test(addr)) {
        throw new UsageError(`${bootstrap.source}: ${JSON.stringify(addr)} is not a bootstrap multiaddr; expected /ip4/<ip>/tcp/<port>/p2p/<peer id>, as printed by the other node at startup`, 'start')
      }
    }
    init.bootstrap = bootstrap.value
  }

  const mdns = bool('mdns') ?? defaults.mdns ?? true
  const mdnsInterval = duration('mdns-interval', 100)
  init.mdns = mdns ? (mdnsInterval === undefined ? true : { interval: mdnsInterval }) : false
  const dht = bool('dht')
  if (dht !== undefined) init.dht = dht

  const ms: Array<[string, keyof RepramNodeInit, number]> = [
    ['default-ttl', 'defaultTtl', 1], ['min-ttl', 'minTtl', 1], ['max-ttl', 'maxTtl', 1],
    ['max-clock-skew', 'maxClockSkew', 0], ['sync-interval', 'syncInterval', 0], ['sync-idle-timeout', 'syncIdleTimeout', 1]
  ]
  for (const [flag, field, min] of ms) {
    const v = duration(flag, min)
    if (v !== undefined) (init as Record<string, unknown>)[field] = v
  }
  const counts: Array<[string, keyof RepramNodeInit]> = [
    ['max-value-bytes', 'maxValueBytes'], ['max-key-bytes', 'maxKeyBytes'], ['max-entries', 'maxEntries'], ['max-bytes', 'maxBytes']
  ]
  for (const [flag, field] of counts) {
    const v = integer(flag, 1)
    if (v !== undefined) (init as Record<string, unknown>)[field] = v
  }
  const identity = str('identity')
  if (identity !== undefined) init.identityFile = identity.value

  let http: StartOptions['http'] = false
  const httpSetting = booleanSetting(values, 'http', env, envOf(spec('http')))
  const serveHttp = httpSetting?.value ?? true
  if (!serveHttp) {
    // A flag that cannot take effect is a mistake worth saying (variables may be set for other runs).
    const unused = START_FLAGS.find(f => HTTP_FLAGS.has(f.name) && values[f.name] !== undefined)
    if (unused !== undefined) throw new UsageError(`--${unused.name} has no effect: the HTTP API is off (${httpSetting!.source === '--http' ? '--no-http' : httpSetting!.source})`, 'start')
  }
  if (serveHttp) {
    http = {
      port: integer('http-port', 0, 65535) ?? defaults.httpPort ?? 8080,
      host: str('http-host')?.value ?? '127.0.0.1',
      writeQuorum: integer('write-quorum', 0, 1000) ?? 1,
      writeTimeout: duration('write-timeout', 1, MAX_WRITE_TIMEOUT_MS) ?? 2000,
      portFallback: defaults.httpPortFallback ?? false
    }
    const rate = str('rate-limit')
    const burst = integer('rate-burst', 1, MAX_RATE_BURST)
    if (rate !== undefined) {
      const perSecond = /^off$/i.test(rate.value) ? 0 : Number(rate.value)
      if (!/^(\d+(\.\d+)?|off)$/i.test(rate.value) || !Number.isFinite(perSecond)) {
        throw new UsageError(`${rate.source}: expected requests per second (e.g. 100, 0.5) or 0 to turn the limit off, got ${JSON.stringify(rate.value)}`, 'start')
      }
      // Without --rate-burst, allow two seconds' worth at once, as the adapter's default (100/s, 200) does.
      if (perSecond === 0 && burst !== undefined && values['rate-burst'] !== undefined) {
        throw new UsageError(`--rate-burst has no effect with ${rate.source} ${rate.value} (no rate limit)`, 'start')
      }
      http.rateLimit = perSecond === 0 ? false : { requestsPerSecond: perSecond, burst: burst ?? Math.min(MAX_RATE_BURST, Math.max(1, Math.ceil(perSecond * 2))) }
    } else if (burst !== undefined) {
      http.rateLimit = { requestsPerSecond: 100, burst }
    }
    const cors = list('cors')
    if (cors !== undefined) {
      if (cors.value.length === 0) { // (empty items are dropped when the list is split)
        throw new UsageError(`${cors.source}: expected *, one or more origins (comma-separated) or off, got ${JSON.stringify(cors.value.join(','))}`, 'start')
      }
      const off = cors.value.length === 1 && /^(off|false|0|none)$/i.test(cors.value[0])
      http.cors = off ? false : cors.value.length === 1 ? cors.value[0] : cors.value
    }
  }

  return {
    init,
    pskFile: str('psk'),
    http,
    json: bool('json') ?? false,
    verbose: bool('verbose') ?? false,
    hints: defaults.hints ?? false,
    title: defaults.title ?? 'repram node'
  }
}
