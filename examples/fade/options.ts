/**
 * Command line and environment of the fade server, parsed by one pure
 * function so the rules are testable without starting anything. Flags win
 * over environment variables; both win over the defaults.
 */
import { parseArgs } from 'node:util'

export interface FadeOptions {
  /** HTTP port; 0 picks a free one. @default 8080 (env PORT) */
  port: number
  /** HTTP address to bind. @default '127.0.0.1' (env FADE_HOST; not HOST, which some shells set to the host name) */
  host: string
  /** Swarm name: only nodes of the same network share a board. @default 'fade' (env FADE_NETWORK) */
  network: string
  /** libp2p listen multiaddrs. @default ['/ip4/0.0.0.0/tcp/0'] (env FADE_LISTEN, comma separated) */
  listen: string[]
  /** Peers to join at start, multiaddrs ending in /p2p/<id>. @default [] (env FADE_BOOTSTRAP, comma separated) */
  bootstrap: string[]
  /** Find peers on the LAN with mDNS. @default true (env FADE_MDNS=0 turns it off) */
  mdns: boolean
  /** Shortest lifetime a post may have, ms. @default 60000 (env FADE_MIN_TTL, seconds) */
  minTtlMs: number
  /** Longest lifetime a post may have, ms. @default 604800000, one week (env FADE_MAX_TTL, seconds) */
  maxTtlMs: number
  /** Posts one client address may make per minute on this node. @default 10 (env FADE_RATE_LIMIT) */
  postsPerMinute: number
  /** Print one JSON line `{url, peerId, multiaddrs}` when ready, and nothing else on stdout. @default false */
  json: boolean
  help: boolean
}

export const USAGE = `Usage: node examples/fade/server.ts [options]

fade: a message board whose posts vanish when their time runs out. Every
server is a node of one peer-to-peer board; start several on a LAN and
they find each other (mDNS) and share it.

Options (environment variable in brackets):
  --port <n>           HTTP port, 0 for a free one            [PORT]  default 8080
  --host <addr>        HTTP address to bind                   [FADE_HOST]  default 127.0.0.1
  --network <name>     board (swarm) name                     [FADE_NETWORK]  default fade
  --listen <addrs>     libp2p listen multiaddrs, comma separated [FADE_LISTEN]
                       default /ip4/0.0.0.0/tcp/0
  --bootstrap <addrs>  peers to join, comma separated multiaddrs ending in /p2p/<id>
                                                              [FADE_BOOTSTRAP]
  --no-mdns            do not look for peers on the LAN       [FADE_MDNS=0]
  --min-ttl <s>        shortest post lifetime, seconds        [FADE_MIN_TTL]  default 60
  --max-ttl <s>        longest post lifetime, seconds         [FADE_MAX_TTL]  default 604800
  --rate-limit <n>     posts per minute per client address    [FADE_RATE_LIMIT]  default 10
  --json               print one JSON line {url, peerId, multiaddrs} when ready
  -h, --help           show this help
`

/** A flag or variable with a bad value; the message names it. */
export class FadeUsageError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'FadeUsageError'
  }
}

function list (value: string | undefined): string[] {
  if (value === undefined) return []
  return value.split(',').map(s => s.trim()).filter(s => s !== '')
}

function number (name: string, value: string | undefined, def: number, min: number, max: number, integer: boolean): number {
  if (value === undefined || value.trim() === '') return def
  // Decimal only: Number() would take " " as 0 and "0x10" as 16.
  const n = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(value) ? Number(value) : NaN
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    throw new FadeUsageError(`${name}: expected ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${JSON.stringify(value)}`)
  }
  return n
}

/** Parses `argv` (without node and script) and `env`. Throws {@link FadeUsageError}. */
export function parseFadeOptions (argv: string[], env: Record<string, string | undefined> = {}): FadeOptions {
  let values
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        network: { type: 'string' },
        listen: { type: 'string' },
        bootstrap: { type: 'string' },
        'no-mdns': { type: 'boolean' },
        'min-ttl': { type: 'string' },
        'max-ttl': { type: 'string' },
        'rate-limit': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      }
    }))
  } catch (err) {
    throw new FadeUsageError((err as Error).message)
  }

  const minTtlSeconds = number('--min-ttl', values['min-ttl'] ?? env.FADE_MIN_TTL, 60, 0.001, 2_147_483, false)
  const maxTtlSeconds = number('--max-ttl', values['max-ttl'] ?? env.FADE_MAX_TTL, Math.max(604_800, minTtlSeconds), minTtlSeconds, 2_147_483, false)
  const mdnsEnv = env.FADE_MDNS
  if (mdnsEnv !== undefined && !['0', '1', 'false', 'true', ''].includes(mdnsEnv)) {
    throw new FadeUsageError(`FADE_MDNS: expected 0 or 1, got ${JSON.stringify(mdnsEnv)}`)
  }
  const listen = list(values.listen ?? env.FADE_LISTEN)

  return {
    port: number('--port', values.port ?? env.PORT, 8080, 0, 65535, true),
    host: values.host ?? env.FADE_HOST ?? '127.0.0.1',
    network: values.network ?? env.FADE_NETWORK ?? 'fade',
    listen: listen.length > 0 ? listen : ['/ip4/0.0.0.0/tcp/0'],
    bootstrap: list(values.bootstrap ?? env.FADE_BOOTSTRAP),
    mdns: values['no-mdns'] !== true && mdnsEnv !== '0' && mdnsEnv !== 'false',
    minTtlMs: Math.max(1, Math.round(minTtlSeconds * 1000)),
    maxTtlMs: Math.round(maxTtlSeconds * 1000),
    postsPerMinute: number('--rate-limit', values['rate-limit'] ?? env.FADE_RATE_LIMIT, 10, 1, 100_000, true),
    json: values.json === true,
    help: values.help === true
  }
}
