/**
 * The CLI's dispatch, help and usage errors, run in-process through
 * `main()` with stdout/stderr captured (the real executable is exercised in
 * cli.test.ts; this covers every case without a process each).
 */
import { createServer } from 'node:net'
import { createServer as createHttpServer } from 'node:http'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { main, version } from '../../src/cli/main.ts'
import { envName } from '../../src/cli/args.ts'
import { START_FLAGS } from '../../src/cli/start-options.ts'

interface Captured { code: number, out: string, err: string }

/** Runs `repram ...argv` in this process with its own environment, capturing what it prints. */
async function repram (argv: string[], env: Record<string, string> = {}): Promise<Captured> {
  const out: string[] = []
  const err: string[] = []
  const stdout = process.stdout.write
  const stderr = process.stderr.write
  process.stdout.write = ((chunk: string | Uint8Array) => { out.push(Buffer.from(chunk).toString()); return true }) as typeof process.stdout.write
  process.stderr.write = ((chunk: string | Uint8Array) => { err.push(Buffer.from(chunk).toString()); return true }) as typeof process.stderr.write
  try {
    const code = await main(argv, env)
    return { code, out: out.join(''), err: err.join('') }
  } finally {
    process.stdout.write = stdout
    process.stderr.write = stderr
  }
}

const COMMANDS = ['start', 'put', 'get', 'delete', 'keys', 'status', 'watch']

test('repram --help lists every command and the exit codes', async () => {
  const r = await repram(['--help'])
  assert.is(r.code, 0)
  assert.is(r.err, '')
  for (const command of COMMANDS) assert.match(r.out, new RegExp(`\\n  ${command} +\\S`), command)
  assert.match(r.out, /Exit codes:\n  0  success\n  1  the operation failed.*\n  2  usage error/)
})

test('every command has --help and -h, and "help CMD" is the same', async () => {
  for (const command of COMMANDS) {
    const long = await repram([command, '--help'])
    assert.is(long.code, 0, `${command}: ${long.err}`)
    assert.ok(long.out.startsWith(`Usage: repram ${command}`), long.out.slice(0, 60))
    assert.is((await repram([command, '-h'])).out, long.out)
    assert.is((await repram(['help', command])).out, long.out)
  }
})

test('start --help documents every flag with its environment variable', async () => {
  const r = await repram(['start', '--help'])
  for (const flag of START_FLAGS) {
    assert.ok(r.out.includes(`--${flag.name}`) || r.out.includes(`--[no-]${flag.name}`), `--${flag.name}`)
    for (const name of flag.env ?? [envName(flag.name)]) assert.ok(r.out.includes(name), `${name} for --${flag.name}`)
  }
  for (const name of ['PORT', 'REPRAM_BOOTSTRAP_PEERS', 'REPRAM_MDNS']) assert.ok(r.out.includes(name), name)
})

test('--version prints the package version', async () => {
  const r = await repram(['--version'])
  assert.is(r.code, 0)
  assert.match(version(), /^\d+\.\d+\.\d+/)
  assert.is(r.out, `repram ${version()}\n`)
  assert.is((await repram(['-V'])).out, r.out)
})

test('no command prints the help on stderr and exits 2', async () => {
  const r = await repram([])
  assert.is(r.code, 2)
  assert.is(r.out, '')
  assert.match(r.err, /^Usage: repram <command>/)
})

const USAGE_ERRORS: Array<{ args: string[], env?: Record<string, string>, message: RegExp }> = [
  { args: ['frobnicate'], message: /^repram: unknown command "frobnicate"; commands: start, put/ },
  { args: ['--verbose'], message: /^repram: give a command first/ },
  { args: ['get'], message: /^repram get: missing KEY\nRun "repram get --help" for usage\.\n$/ },
  { args: ['get', 'a', 'b'], message: /unexpected argument "b"/ },
  { args: ['get', 'k', '--bogus'], message: /^repram get: unknown option --bogus/ },
  { args: ['get', 'k', '--url'], message: /option --url needs a value/ },
  { args: ['get', 'k', '--url', 'not a url'], message: /--url: expected a URL such as http:\/\/127\.0\.0\.1:8080, got "not a url"/ },
  { args: ['get', 'k'], env: { REPRAM_URL: 'ftp://x' }, message: /REPRAM_URL: expected an http:\/\/ or https:\/\/ URL/ },
  { args: ['get', 'k', '--url', 'http://a:1,http://b:2'], message: /get talks to one node/ },
  { args: ['put', 'k', 'v', '--ttl', 'soon'], message: /--ttl: expected a duration above 0 in seconds/ },
  { args: ['put', 'k', 'v', '--ttl', '0'], message: /--ttl: expected a duration above 0/ },
  { args: ['put', '.', 'x'], message: /the key "\." cannot be addressed over HTTP/ },
  { args: ['get', '..'], message: /the key "\.\." cannot be addressed over HTTP/ },
  { args: ['keys', '--page-size', '0'], message: /--page-size: expected an integer from 1 to 10000, got "0"/ },
  { args: ['keys', '--page-size', '10001'], message: /--page-size: expected an integer from 1 to 10000, got "10001"/ },
  { args: ['status', '--interval', '0.01'], message: /--interval: expected a duration of at least 0\.1 s/ },
  { args: ['watch', '--timeout', '-1'], message: /option --timeout needs a value; for one that starts with -, write --timeout=<value>/ },
  { args: ['start', '--mdns=yes'], message: /option --mdns does not take a value/ },
  { args: ['start', '--no-mdns', '--http-port', '99999'], message: /--http-port: expected an integer from 0 to 65535, got "99999"/ },
  { args: ['start', '--no-mdns'], env: { PORT: 'eighty' }, message: /^repram start: PORT: expected an integer from 0 to 65535/ },
  { args: ['start', '--no-mdns', '--max-entries', 'lots'], message: /--max-entries: expected an integer 1 or more/ },
  { args: ['start', '--no-mdns'], env: { REPRAM_MAX_TTL: 'forever' }, message: /REPRAM_MAX_TTL: expected a duration/ },
  { args: ['start'], env: { REPRAM_MDNS: 'maybe' }, message: /REPRAM_MDNS: expected 1 or 0/ },
  { args: ['start', '--no-mdns', '--rate-limit', 'fast'], message: /--rate-limit: expected requests per second/ },
  { args: ['start', '--no-mdns', '--no-http', '--http-port', '9000'], message: /--http-port has no effect: the HTTP API is off \(--no-http\)/ },
  { args: ['start', '--no-mdns', '--cors', 'off'], env: { REPRAM_HTTP: '0' }, message: /--cors has no effect: the HTTP API is off \(REPRAM_HTTP\)/ },
  { args: ['start', '--no-mdns', '--rate-limit', '0', '--rate-burst', '5'], message: /--rate-burst has no effect with --rate-limit 0/ },
  { args: ['start', '--no-mdns', '--write-timeout', '700'], message: /--write-timeout: expected a duration above 0 and of at most 600 s/ },
  { args: ['start', '--no-mdns', '--cors', ''], message: /--cors: expected \*, one or more origins \(comma-separated\) or off, got ""/ },
  { args: ['put', 'k', 'v', '--content-type', 'text/✓'], message: /--content-type: expected 1-256 printable ASCII characters, got "text\/✓"/ },
  { args: ['put', 'k', 'v', '-c', 'text/plain\nX-Evil: 1'], message: /--content-type: expected 1-256 printable ASCII characters/ },
  { args: ['start', '--no-mdns', '--bootstrap', '10.0.0.1:4001'], message: /--bootstrap: "10\.0\.0\.1:4001" is not a bootstrap multiaddr; expected \/ip4\/<ip>\/tcp\/<port>\/p2p\/<peer id>/ },
  { args: ['start', '--no-mdns'], env: { REPRAM_BOOTSTRAP_PEERS: '/ip4/10.0.0.1/tcp/4001' }, message: /REPRAM_BOOTSTRAP_PEERS: "\/ip4\/10\.0\.0\.1\/tcp\/4001" is not a bootstrap multiaddr/ },
  { args: ['start', '--no-mdns', '--psk', '/nonexistent/swarm.key'], message: /--psk: cannot read "\/nonexistent\/swarm\.key" \(ENOENT\)/ },
  // Rejected by the core's own validation, reported as one line pointing at the flag.
  { args: ['start', '--no-mdns', '--no-http', '--network', 'no spaces'], message: /^repram start: invalid option network: .*; set by --network \/ REPRAM_NETWORK\n/ },
  { args: ['start', '--no-mdns', '--no-http', '--min-ttl', '10', '--max-ttl', '5'], message: /invalid option maxTtl: .*milliseconds.*set by --max-ttl/ },
  { args: ['start', '--no-mdns', '--no-http', '--max-value-bytes', '999999999'], message: /invalid option maxValueBytes: .*set by --max-value-bytes/ }
]

test('usage errors exit 2 with one line naming the flag or variable, and a pointer to --help', async () => {
  for (const c of USAGE_ERRORS) {
    const what = `${Object.entries(c.env ?? {}).map(([k, v]) => `${k}=${v} `).join('')}repram ${c.args.join(' ')}`
    const r = await repram(c.args, c.env)
    assert.is(r.code, 2, `${what}: exit ${r.code}; stderr: ${r.err}`)
    assert.match(r.err, c.message, `${what}: ${r.err}`)
    assert.match(r.err, /Run "repram (\w+ )?--help" for usage\.\n$|\n$/, what)
    assert.not.match(r.err, /\n\s+at /, `${what} printed a stack trace`)
    assert.is(r.out, '', `${what} printed on stdout`)
  }
})

test('client commands against a port nobody listens on exit 1 with what to check', async () => {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  for (const args of [['keys'], ['delete', 'k'], ['status']]) {
    const r = await repram([...args, '--url', url])
    assert.is(r.code, 1, `${args[0]}: ${r.err}`)
    if (args[0] === 'status') assert.match(r.out, new RegExp(`${url}\\s+down: connection refused`))
    else assert.match(r.err, new RegExp(`^repram ${args[0]}: cannot reach ${url} \\(connection refused\\): is a node running there\\? pass --url or set REPRAM_URL\\n$`))
  }
  const host = await repram(['keys', '--url', 'http://no-such-host.invalid:8080'])
  assert.is(host.code, 1)
  assert.match(host.err, /cannot reach http:\/\/no-such-host\.invalid:8080 \(host not found\)/)
})

test('client commands reach a node on a port that fetch refuses (the browsers\' block list)', async () => {
  // A stand-in for a node's API: `repram get` only needs this answer.
  const server = createHttpServer((req, res) => {
    res.writeHead(req.url === '/v1/data/k' ? 200 : 404, { 'content-type': 'text/plain' })
    res.end(req.url === '/v1/data/k' ? 'value on a blocked port' : '')
  })
  let port = 0
  for (const candidate of [10080, 6666, 6667, 6668, 6669, 6000]) {
    const bound = await new Promise<boolean>(resolve => {
      server.once('error', () => { resolve(false) })
      server.listen(candidate, '127.0.0.1', () => { resolve(true) })
    })
    if (bound) { port = candidate; break }
  }
  assert.ok(port !== 0, 'one of the blocked ports is free here')
  try {
    const url = `http://127.0.0.1:${port}`
    await fetch(`${url}/v1/data/k`).then(() => { assert.unreachable('fetch refuses it') }, (err: Error) => { assert.match(String((err.cause as Error)?.message ?? err), /bad port/) })
    const r = await repram(['get', 'k', '--url', url])
    assert.is(r.code, 0, r.err)
    assert.is(r.out, 'value on a blocked port')
  } finally {
    await new Promise<void>(resolve => server.close(() => { resolve() }))
  }
})

test.run()
