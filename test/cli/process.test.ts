/**
 * The `repram` executable as a process: help, version, exit codes and
 * messages of failures, configuration from the environment, signals.
 */
import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { CLI, LineProcess, ROOT, cleanEnv, killAll, run, startNode } from './helpers.ts'
import { RepramNode } from '../../src/index.ts'
import { startHttpServer } from '../../src/http/index.ts'
import type { Server } from 'node:net'

const cli = suite('repram executable')

/** A peer id in valid form; nothing runs under it. */
const NOBODY = '12D3KooWQ4NkHrVgPJBU2gsxJ1wvxmK5tggdLs75BAVeny6T8Pch'

async function listening (): Promise<{ server: Server, port: number }> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as { port: number }).port }
}

/** A loopback port that nothing listens on (bound, then released). */
async function closedPort (): Promise<number> {
  const { server, port } = await listening()
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  return port
}

cli.after(() => { killAll() })

cli('help and version are printed by the real executable', async () => {
  const main = await run(['--help'])
  assert.is(main.code, 0, main.stderr)
  assert.ok(main.out.startsWith('Usage: repram <command>'), main.out.slice(0, 80))
  const put = await run(['put', '--help'])
  assert.is(put.code, 0, put.stderr)
  assert.ok(put.out.startsWith('Usage: repram put KEY'), put.out.slice(0, 80))
  const version = await run(['--version'])
  assert.is(version.code, 0)
  const pkg = JSON.parse(readFileSync(new URL('package.json', `file://${ROOT}/`), 'utf8'))
  assert.is(version.out.trim(), `repram ${pkg.version}`)
})

// The full list of usage errors is checked in-process by main.test.ts; these check the real exit codes.
cli('usage errors exit 2 with a one-line message naming the problem', async () => {
  const cases: Array<{ args: string[], message: RegExp }> = [
    { args: [], message: /Usage: repram <command>/ },
    { args: ['start', '--no-mdns', '--http-port', '99999'], message: /^repram start: --http-port: expected an integer from 0 to 65535, got "99999"\n/ },
    // Rejected by the core's config validation: one line pointing at the flag, no stack trace.
    { args: ['start', '--no-mdns', '--no-http', '--network', 'no spaces allowed'], message: /^repram start: invalid option network: .*set by --network/ }
  ]
  for (const c of cases) {
    const r = await run(c.args)
    const what = `repram ${c.args.join(' ')}`
    assert.is(r.code, 2, `${what}: exit ${r.code}, stderr ${r.stderr}`)
    assert.match(r.stderr, c.message, what)
    assert.not.match(r.stderr, /\n\s+at /, `${what} printed a stack trace`)
  }
})

cli('an unreachable --url gives an actionable error and exit 1', async () => {
  const url = `http://127.0.0.1:${await closedPort()}`
  for (const args of [['get', 'k'], ['put', 'k', 'v'], ['watch']]) {
    const r = await run([...args, '--url', url])
    assert.is(r.code, 1, `${args[0]}: ${r.stderr}`)
    assert.match(r.stderr, new RegExp(`cannot reach ${url} \\(connection refused\\): is a node running there\\? pass --url`))
  }
  const viaEnv = await run(['get', 'k'], { env: cleanEnv({ REPRAM_URL: url }) })
  assert.is(viaEnv.code, 1)
  assert.match(viaEnv.stderr, new RegExp(`cannot reach ${url}`))
})

cli('watch waits out a node that answers 503 while it restarts, and carries on once it is back', async () => {
  const node = new RepramNode({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, syncInterval: 0 })
  await node.start()
  const http = await startHttpServer(node, { rateLimit: false })
  const watch = new LineProcess(CLI, ['watch', '--json', '--interval', '0', '--url', http.url], cleanEnv(), 'repram watch')
  try {
    await watch.waitForEvent('connected')
    await node.stop() // ends the stream; the HTTP server stays up and answers 503 until the node is back
    await watch.waitForEvent('waiting', e => e.status === 503)
    await node.start()
    await watch.waitForEvent('reconnected')
    await node.put('after/restart', 'back', { ttl: 60_000 })
    const set = await watch.waitForEvent('set', e => e.key === 'after/restart')
    assert.is(set.value, 'back')
    assert.equal(await watch.stop('SIGINT'), { code: 0, signal: null }, watch.output())
  } finally {
    await watch.stop('SIGKILL')
    await http.close()
    await node.stop()
  }
})

cli('--identity keeps the peer id across restarts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'repram-cli-'))
  try {
    const file = join(dir, 'node.key')
    const ids: string[] = []
    for (let i = 0; i < 2; i++) {
      const { proc, info } = await startNode(['--no-mdns', '--no-http', '--listen', '/ip4/127.0.0.1/tcp/0', '--identity', file], { label: `identity run ${i + 1}` })
      ids.push(info.peerId)
      assert.is(info.http, null)
      const exit = await proc.stop('SIGINT')
      assert.equal(exit, { code: 0, signal: null }, proc.output())
    }
    assert.ok(existsSync(file), 'the key file was created')
    assert.is(ids[1], ids[0])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

cli('a taken HTTP port is a one-line error naming --http-port', async () => {
  const { server, port } = await listening()
  try {
    const r = await run(['start', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--http-port', String(port)])
    assert.is(r.code, 1, r.stderr)
    assert.match(r.stderr, new RegExp(`^repram start: HTTP port ${port} on 127\\.0\\.0\\.1 is in use.*--http-port N \\(0 picks a free port\\), or --no-http\\n$`))
  } finally {
    server.close()
  }
})

cli('environment variables configure start like flags, flags win, and SIGTERM stops it with exit 0', async () => {
  const bootstrap = `/ip4/127.0.0.1/tcp/${await closedPort()}/p2p/${NOBODY}`
  const env = cleanEnv({
    REPRAM_MDNS: '0',
    REPRAM_LISTEN: '/ip4/127.0.0.1/tcp/0',
    PORT: '0',
    REPRAM_NETWORK: 'from-env',
    REPRAM_BOOTSTRAP_PEERS: bootstrap
  })
  const { proc, info } = await startNode(['--network', 'from-flag'], { env, label: 'env node' })
  try {
    const started = proc.lines[0].json as Record<string, any>
    assert.is(started.network, 'from-flag')
    assert.equal(started.bootstrap, [bootstrap])
    assert.is(started.mdns, false)
    assert.match(info.http ?? '', /^http:\/\/127\.0\.0\.1:\d+$/)
  } finally {
    const exit = await proc.stop('SIGTERM')
    assert.equal(exit, { code: 0, signal: null }, proc.output())
    assert.equal(proc.lines.slice(-2).map(l => l.json?.event), ['stopping', 'stopped'], proc.output())
  }
})

/**
 * Runs the CLI with `args`, and sends `signal` once `when` (given what the process wrote on stderr
 * so far, and its pid) says so; resolves with how it ended. 20 s at most.
 */
async function signalled (args: string[], signal: NodeJS.Signals, when: (stderr: string, pid: number) => boolean, env: Record<string, string> = cleanEnv()):
  Promise<{ code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string, sent: boolean }> {
  const preload = fileURLToPath(new URL('../fixtures/tell-loading.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', preload, CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  let sent = false
  const check = (): void => {
    if (!sent && child.pid !== undefined && child.exitCode === null && when(stderr, child.pid)) {
      sent = true
      child.kill(signal)
    }
  }
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); check() })
  const poll = setInterval(check, 10)
  const kill = setTimeout(() => { child.kill('SIGKILL') }, 20_000)
  const [code, exitSignal] = await new Promise<[number | null, NodeJS.Signals | null]>(resolve => { child.on('exit', (c, s) => { resolve([c, s]) }) })
  clearInterval(poll)
  clearTimeout(kill)
  return { code, signal: exitSignal, stdout, stderr, sent }
}

const START = ['start', '--json', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--http-port', '0']

cli('a SIGTERM while start is still loading libp2p stops it cleanly with exit 0', async () => {
  const r = await signalled(START, 'SIGTERM', stderr => stderr.includes('loading libp2p\n'), cleanEnv({ TELL_LOADING: 'libp2p' }))
  assert.ok(r.sent, `no signal sent: ${r.stderr}`)
  assert.equal({ code: r.code, signal: r.signal }, { code: 0, signal: null }, `${r.stdout}${r.stderr}`)
  const events = r.stdout.trim().split('\n').map(line => (JSON.parse(line) as { event: string }).event)
  assert.equal(events.slice(-2), ['stopping', 'stopped'], r.stdout)
})

cli('a SIGTERM while start waits for its swarm key from a pipe ends it at once, with nothing started', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'repram-fifo-'))
  try {
    const fifo = join(dir, 'swarm.key')
    spawnSync('mkfifo', [fifo])
    // Once one of its threads waits for a writer at the pipe (there will be none).
    const reading = (_stderr: string, pid: number): boolean => {
      try {
        return readdirSync(`/proc/${pid}/task`).some(tid => { try { return readFileSync(`/proc/${pid}/task/${tid}/wchan`, 'utf8') === 'wait_for_partner' } catch { return false } })
      } catch { return false }
    }
    const r = await signalled([...START, '--psk', fifo], 'SIGTERM', reading)
    assert.ok(r.sent, `no signal sent: ${r.stderr}`)
    // The signal's own effect: the read of the pipe would hold a clean exit for ever.
    assert.equal({ code: r.code, signal: r.signal }, { code: null, signal: 'SIGTERM' }, `${r.stdout}${r.stderr}`)
    assert.is(r.stdout, '')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

cli('a Ctrl-C while status (one table) is still loading ends it, as a signal ends any short command', async () => {
  // A node that never answers: without the signal, status would wait for its timeout, then print.
  const { server, port } = await listening()
  try {
    const r = await signalled(['status', '--url', `http://127.0.0.1:${port}`], 'SIGINT', stderr => stderr.includes('loading ./commands/status.ts\n'),
      cleanEnv({ TELL_LOADING: './commands/status.ts' }))
    assert.ok(r.sent, `no signal sent: ${r.stderr}`)
    assert.equal({ code: r.code, signal: r.signal }, { code: null, signal: 'SIGINT' }, `${r.stdout}${r.stderr}`)
    assert.is(r.stdout, '')
  } finally {
    server.close()
  }
})

cli.run()
