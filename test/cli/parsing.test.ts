/** Pure parts of the CLI: flag/env resolution, durations, SSE parsing, formatting. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { listSetting, parseCommandLine, parseDurationMs, parseInteger, stringSetting, urlSettings } from '../../src/cli/args.ts'
import { flagForField, resolveStartOptions, startParseOptions } from '../../src/cli/start-options.ts'
import { readSse } from '../../src/cli/sse.ts'
import { formatBytes, formatDuration, parseTime, previewValue, shortPeerId, table } from '../../src/cli/format.ts'
import { UsageError } from '../../src/cli/errors.ts'
import { normalizeStatus, statusTable } from '../../src/cli/commands/status.ts'
import { describeEvent } from '../../src/cli/commands/watch.ts'
import type { SseEvent } from '../../src/cli/sse.ts'

const PEER = '12D3KooWQ4NkHrVgPJBU2gsxJ1wvxmK5tggdLs75BAVeny6T8Pch'
const ADDR = `/ip4/10.0.0.1/tcp/4001/p2p/${PEER}`

function start (argv: string[], env: Record<string, string> = {}, defaults = {}): ReturnType<typeof resolveStartOptions> {
  return resolveStartOptions(parseCommandLine('start', argv, startParseOptions()).values, env, defaults)
}

function throwsUsage (fn: () => unknown, message: RegExp): void {
  try {
    fn()
  } catch (err: any) {
    assert.is(err.name, 'UsageError')
    assert.match(err.message, message)
    return
  }
  assert.unreachable(`expected a UsageError matching ${message}`)
}

test('durations are seconds by default, with optional units, in whole ms', () => {
  const d = (value: string): number => parseDurationMs({ value, source: '--x' })
  assert.is(d('60'), 60_000)
  assert.is(d('0.5'), 500)
  assert.is(d('.25'), 250)
  assert.is(d('250ms'), 250)
  assert.is(d('30s'), 30_000)
  assert.is(d('5m'), 300_000)
  assert.is(d('2h'), 7_200_000)
  assert.is(d('7d'), 604_800_000)
  assert.is(d('0'), 0)
  throwsUsage(() => d('-1'), /--x: expected a duration/)
  throwsUsage(() => d('1y'), /got "1y"/)
  throwsUsage(() => parseDurationMs({ value: '0', source: '--ttl' }, 1), /--ttl: expected a duration above 0/)
})

test('integers are checked against their range and name their source', () => {
  assert.is(parseInteger({ value: '8080', source: 'PORT' }, 0, 65535), 8080)
  assert.is(parseInteger({ value: '1_000_000', source: '--max-entries' }, 1), 1_000_000)
  throwsUsage(() => parseInteger({ value: '8080.5', source: 'PORT' }, 0, 65535), /^PORT: expected an integer from 0 to 65535, got "8080\.5"$/)
  throwsUsage(() => parseInteger({ value: '', source: '--n' }, 1), /--n: expected an integer 1 or more/)
  throwsUsage(() => parseInteger({ value: '1e3', source: '--n' }, 1), /got "1e3"/)
})

test('flags win over environment variables, which are read in order', () => {
  assert.equal(stringSetting({ 'http-port': '1' }, 'http-port', { PORT: '2' }, ['REPRAM_HTTP_PORT', 'PORT']), { value: '1', source: '--http-port' })
  assert.equal(stringSetting({}, 'http-port', { PORT: '2', REPRAM_HTTP_PORT: '3' }, ['REPRAM_HTTP_PORT', 'PORT']), { value: '3', source: 'REPRAM_HTTP_PORT' })
  assert.equal(stringSetting({}, 'http-port', { PORT: '2', REPRAM_HTTP_PORT: '  ' }, ['REPRAM_HTTP_PORT', 'PORT']), { value: '2', source: 'PORT' })
  assert.is(stringSetting({}, 'http-port', {}, ['PORT']), undefined)
})

test('list flags repeat and split on commas; the environment is comma-separated', () => {
  assert.equal(listSetting({ listen: ['/a', '/b,/c', ' /d , '] }, 'listen', { REPRAM_LISTEN: '/e' })?.value, ['/a', '/b', '/c', '/d'])
  assert.equal(listSetting({}, 'listen', { REPRAM_LISTEN: '/e, /f' }), { value: ['/e', '/f'], source: 'REPRAM_LISTEN' })
  assert.equal(urlSettings({}, {}), ['http://127.0.0.1:8080'])
  assert.equal(urlSettings({ url: ['http://a:1/', 'http://b:2'] }, { REPRAM_URL: 'http://c:3' }), ['http://a:1', 'http://b:2'])
  assert.equal(urlSettings({}, { REPRAM_URL: 'http://c:3,https://d' }), ['http://c:3', 'https://d'])
  assert.equal(urlSettings({ url: ['http://a:1/base/'] }, {}), ['http://a:1/base'], 'a base path is kept')
  // Nothing in the list, or a URL that request paths cannot be appended to: usage errors.
  const empty: Array<[Record<string, string[]>, Record<string, string>]> = [[{ url: [''] }, {}], [{ url: [','] }, {}], [{}, { REPRAM_URL: ' , ' }]]
  for (const [values, env] of empty) {
    assert.throws(() => urlSettings(values, env), (err: Error) => err instanceof UsageError && /expected one or more URLs/.test(err.message), JSON.stringify([values, env]))
  }
  for (const [url, what] of [['http://a:1/?x=1', 'a query'], ['http://a:1#frag', 'a fragment'], ['http://u:p@a:1', 'a user name or password']]) {
    assert.throws(() => urlSettings({ url: [url] }, {}), (err: Error) => err instanceof UsageError && err.message.includes(`--url: expected the node's base URL, such as http://127.0.0.1:8080, without ${what}`), url)
  }
})

test('start: defaults are the node\'s, HTTP on 127.0.0.1:8080 with quorum 1', () => {
  const o = start([])
  assert.equal(o.init, { mdns: true })
  assert.equal(o.http, { port: 8080, host: '127.0.0.1', writeQuorum: 1, writeTimeout: 2000, portFallback: false })
  assert.is(o.json, false)
  assert.is(o.pskFile, undefined)
})

test('start: every flag maps to its node option, durations from seconds to ms', () => {
  const o = start([
    '--network', 'lab', '--listen', '/ip4/127.0.0.1/tcp/0', '--announce', '/dns4/example.org/tcp/4001',
    '--mdns-interval', '2', '--bootstrap', ADDR, '--dht',
    '--default-ttl', '600', '--min-ttl', '0.1', '--max-ttl', '1d', '--max-value-bytes', '4096', '--max-key-bytes', '64',
    '--max-entries', '10', '--max-bytes', '100000', '--max-clock-skew', '5', '--sync-interval', '0', '--sync-idle-timeout', '90',
    '--identity', 'node.key', '--psk', 'swarm.key',
    '--http-port', '0', '--http-host', '0.0.0.0', '--write-quorum', '2', '--write-timeout', '500ms',
    '--rate-limit', '10', '--cors', 'https://a.example,https://b.example', '--json', '--verbose'
  ])
  assert.equal(o.init, {
    network: 'lab',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    announce: ['/dns4/example.org/tcp/4001'],
    bootstrap: [ADDR],
    mdns: { interval: 2000 },
    dht: true,
    defaultTtl: 600_000,
    minTtl: 100,
    maxTtl: 86_400_000,
    maxClockSkew: 5000,
    syncInterval: 0,
    syncIdleTimeout: 90_000,
    maxValueBytes: 4096,
    maxKeyBytes: 64,
    maxEntries: 10,
    maxBytes: 100_000,
    identityFile: 'node.key'
  })
  assert.equal(o.pskFile, { value: 'swarm.key', source: '--psk' })
  assert.equal(o.http, {
    port: 0,
    host: '0.0.0.0',
    writeQuorum: 2,
    writeTimeout: 500,
    portFallback: false,
    rateLimit: { requestsPerSecond: 10, burst: 20 },
    cors: ['https://a.example', 'https://b.example']
  })
  assert.is(o.json, true)
  assert.is(o.verbose, true)
})

test('start: HTTP variables set in the environment are no mistake when the API is off; only flags are', () => {
  assert.is(start([], { PORT: '9000', REPRAM_CORS: 'off', REPRAM_HTTP: '0' }).http, false)
  assert.is(start(['--no-http'], { PORT: '9000' }).http, false)
})

test('start: the burst derived from a very high --rate-limit stays within what the server takes', () => {
  assert.equal(start(['--rate-limit', '1000000000']).http, {
    port: 8080, host: '127.0.0.1', writeQuorum: 1, writeTimeout: 2000, portFallback: false,
    rateLimit: { requestsPerSecond: 1e9, burst: 1_000_000 }
  })
  assert.equal((start(['--write-timeout', '10m']).http as { writeTimeout: number }).writeTimeout, 600_000)
})

test('start: the same options from the environment, including the REPRAM v1 names', () => {
  const o = start([], {
    REPRAM_NETWORK: 'lab',
    REPRAM_MDNS: '0',
    REPRAM_BOOTSTRAP_PEERS: `${ADDR}, ${ADDR.replace('10.0.0.1', '10.0.0.2')}`,
    PORT: '9000',
    REPRAM_MIN_TTL: '1',
    REPRAM_RATE_LIMIT: '0',
    REPRAM_CORS: 'off',
    REPRAM_JSON: 'true'
  })
  assert.is(o.init.network, 'lab')
  assert.is(o.init.mdns, false)
  assert.equal(o.init.bootstrap, [ADDR, ADDR.replace('10.0.0.1', '10.0.0.2')])
  assert.is(o.init.minTtl, 1000)
  assert.ok(o.http !== false)
  assert.is(o.http.port, 9000)
  assert.is(o.http.rateLimit, false)
  assert.is(o.http.cors, false)
  assert.is(o.json, true)
})

test('start: flags override the environment; --no-x overrides X=1; --no-http turns HTTP off', () => {
  const o = start(['--mdns', '--http-port', '81', '--network', 'flag'], { REPRAM_MDNS: '0', PORT: '80', REPRAM_NETWORK: 'env' })
  assert.is(o.init.mdns, true)
  assert.is(o.init.network, 'flag')
  assert.is(o.http !== false && o.http.port, 81)
  assert.is(start(['--no-mdns'], { REPRAM_MDNS: '1' }).init.mdns, false)
  assert.is(start(['--no-http']).http, false)
  assert.is(start([], { REPRAM_HTTP: '0' }).http, false)
})

test('start: host defaults (the example node) apply only when neither flag nor env says', () => {
  const defaults = { mdns: false, httpPortFallback: true, hints: true, listen: ['/ip4/127.0.0.1/tcp/0'] }
  const o = start([], {}, defaults)
  assert.is(o.init.mdns, false)
  assert.equal(o.init.listen, ['/ip4/127.0.0.1/tcp/0'])
  assert.is(o.http !== false && o.http.portFallback, true)
  assert.is(o.hints, true)
  assert.is(start([], { REPRAM_MDNS: '1' }, defaults).init.mdns, true)
})

test('start: a core config field is traced back to its flag and variables', () => {
  assert.is(flagForField('maxTtl'), '--max-ttl / REPRAM_MAX_TTL')
  assert.is(flagForField('bootstrap[2]'), '--bootstrap / REPRAM_BOOTSTRAP / REPRAM_BOOTSTRAP_PEERS')
  assert.is(flagForField('mdns.interval'), '--mdns / REPRAM_MDNS, --mdns-interval / REPRAM_MDNS_INTERVAL')
  assert.is(flagForField('clock'), undefined)
})

async function * chunks (...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield new TextEncoder().encode(p)
}

async function collect (it: AsyncIterable<SseEvent>): Promise<SseEvent[]> {
  const out: SseEvent[] = []
  for await (const e of it) out.push(e)
  return out
}

test('SSE: events are assembled across chunk boundaries, comments skipped', async () => {
  const events = await collect(readSse(chunks(
    ': watching\n\n',
    'event: set\nda', 'ta: {"key":"a"}\n', '\n',
    'event: delete\r\ndata: {"key":"b"}\r', '\n\r\n',
    'data: line 1\ndata: line 2\nid: 7\n\n',
    ': keep-alive\n\n',
    'event: expire\ndata: {"key":"unterminated"}\n'
  )))
  assert.equal(events, [
    { event: 'set', data: '{"key":"a"}', id: undefined },
    { event: 'delete', data: '{"key":"b"}', id: undefined },
    { event: 'message', data: 'line 1\nline 2', id: '7' }
  ])
})

test('SSE: a multi-byte character split between chunks survives', async () => {
  const bytes = new TextEncoder().encode('data: {"key":"café"}\n\n')
  const cut = bytes.indexOf(0xc3) + 1
  async function * split (): AsyncGenerator<Uint8Array> { yield bytes.slice(0, cut); yield bytes.slice(cut) }
  assert.equal((await collect(readSse(split())))[0].data, '{"key":"café"}')
})

test('watch lines describe each change', () => {
  const now = Date.parse('2025-01-01T00:00:00.000Z')
  const set = describeEvent({ event: 'set', data: JSON.stringify({ key: 'k', origin: PEER, local: false, size: 5, expires_at: '2025-01-01T00:01:00.000Z', value: 'hello', encoding: 'utf8' }) }, now)
  assert.is(set, 'set     "k" = "hello"  5 B, ttl 1m0s, from 12D3…6T8Pch')
  const bin = describeEvent({ event: 'set', data: JSON.stringify({ key: 'b', size: 3, value: Buffer.from([0, 1, 2]).toString('base64'), encoding: 'base64', local: true }) }, now)
  assert.is(bin, 'set     "b" = <3 B binary>  3 B, written here')
  assert.is(describeEvent({ event: 'delete', data: JSON.stringify({ key: 'k', origin: PEER, local: true }) }), 'delete  "k"  written here')
  assert.is(describeEvent({ event: 'delete', data: JSON.stringify({ key: 'k', origin: PEER, local: false }) }), 'delete  "k"  from 12D3…6T8Pch')
  assert.is(describeEvent({ event: 'expire', data: JSON.stringify({ key: 'k', expires_at: '2025-01-01T00:00:00.000Z' }) }), 'expire  "k"')
  assert.is(describeEvent({ event: 'message', data: 'not json' }), 'message not json')
})

test('status bodies are read from the HTTP API\'s snake_case fields', () => {
  const s = normalizeStatus('http://n1', { status: 'ok', peer_id: PEER, network: 'repram', addresses: [], peers: 2, entries: 10, bytes: 2048, uptime_seconds: 93, version: '0.1.0' })
  assert.equal(s, { url: 'http://n1', reachable: true, peerId: PEER, network: 'repram', peers: 2, entries: 10, bytes: 2048, uptimeMs: 93_000, version: '0.1.0' })
  assert.is(normalizeStatus('u', { peers: ['a', 'b', 'c'] }).peers, 3)
  const t = statusTable([s, { url: 'http://n2', reachable: false, error: 'connection refused' }]).split('\n')
  assert.equal(t, [
    'URL        STATE                     PEER ID      PEERS  ENTRIES  BYTES    UPTIME',
    'http://n1  up                        12D3…6T8Pch  2      10       2.0 KiB  1m33s',
    'http://n2  down: connection refused  -            -      -        -        -'
  ])
})

test('formatting helpers', () => {
  assert.is(formatBytes(0), '0 B')
  assert.is(formatBytes(1023), '1023 B')
  assert.is(formatBytes(1536), '1.5 KiB')
  assert.is(formatBytes(300 * 1024 * 1024), '300 MiB')
  assert.is(formatDuration(250), '250ms')
  assert.is(formatDuration(59_400), '59s')
  assert.is(formatDuration(59_999), '1m0s')
  assert.is(formatDuration(3_600_000 + 120_000), '1h2m')
  assert.is(formatDuration(90_000_000), '1d1h')
  assert.is(shortPeerId(PEER), '12D3…6T8Pch')
  assert.is(shortPeerId(undefined), '-')
  assert.is(parseTime('2025-01-01T00:00:00.000Z'), 1735689600000)
  assert.is(parseTime('1735689600000'), 1735689600000)
  assert.is(parseTime('soon'), undefined)
  assert.is(previewValue(new TextEncoder().encode('a\nb')), '"a b"')
  assert.is(previewValue(new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69])), '" hi"', 'a byte-order mark shows (as white space)')
  assert.is(previewValue(new TextEncoder().encode('x'.repeat(50)), 10), `"${'x'.repeat(10)}…"`)
  assert.is(table(['A', 'BB'], [['long', 'x']]), 'A     BB\nlong  x')
})

test.run()
