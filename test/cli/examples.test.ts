/**
 * The example scripts as a user runs them: three example nodes (`npm start`)
 * forming a cluster through REPRAM_BOOTSTRAP_PEERS with mDNS off, `npm
 * start` itself stopped the way a process manager stops it, and the
 * embedding example running to completion.
 */
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { killMarked, markedPids, runNpmScript } from '../helpers/npm-script.ts'
import { waitFor } from '../helpers/wait.ts'
import { LineProcess, cleanEnv, killAll, run } from './helpers.ts'

const EXAMPLE_NODE = fileURLToPath(new URL('../../examples/node.ts', import.meta.url))
const EMBED = fileURLToPath(new URL('../../examples/embed.ts', import.meta.url))

const examples = suite('examples')
const procs: LineProcess[] = []

/** Marks the processes `npm start` runs in this file, to find any left behind. */
const MARKER = `examples-test-${process.pid}`

examples.after(async () => {
  await Promise.allSettled(procs.map(async p => await p.stop('SIGKILL')))
  killAll()
  killMarked(MARKER)
})

/** The example node on loopback; REPRAM_MDNS=0 keeps it off this machine's LAN. */
function exampleNode (label: string, env: Record<string, string>, args: string[] = []): LineProcess {
  const fullEnv = cleanEnv({ REPRAM_MDNS: '0', REPRAM_LISTEN: '/ip4/127.0.0.1/tcp/0', PORT: '0', ...env })
  assert.is(fullEnv.REPRAM_MDNS, '0')
  const proc = new LineProcess(EXAMPLE_NODE, args, fullEnv, label)
  procs.push(proc)
  return proc
}

examples('three example nodes joined by REPRAM_BOOTSTRAP_PEERS replicate HTTP writes', async () => {
  // Node 1 as a person sees it: readable startup text.
  const first = exampleNode('example node 1', {})
  const peerId = (await first.waitForLine(l => l.text.startsWith('REPRAM example node '), 'banner')).text.split(' ').pop() as string
  const address = (await first.waitForLine(l => l.text.startsWith('  listening  '), 'listen address')).text.trim().split(/\s+/)[1]
  const url1 = (await first.waitForLine(l => l.text.startsWith('  http       '), 'HTTP URL')).text.trim().split(/\s+/)[1]
  await first.waitForLine(l => l.text.includes(`curl -X PUT -H 'X-TTL: 60' --data 'hello' ${url1}/v1/data/greeting`), 'curl hint')
  assert.match(peerId, /^12D3KooW/)
  assert.ok(address.endsWith(`/p2p/${peerId}`), address)
  assert.match(url1, /^http:\/\/127\.0\.0\.1:\d+$/)

  // Node 2 asks for node 1's HTTP port: it is taken, so the example falls back to a free one.
  const second = exampleNode('example node 2', { REPRAM_BOOTSTRAP_PEERS: address, PORT: new URL(url1).port }, ['--json'])
  const notice = await second.waitForEvent('notice')
  assert.match(notice.message, /in use; using a free port/)
  const started2 = await second.waitForEvent('started')
  assert.is(second.lines[0].json?.event, 'started', 'with --json the startup info comes first')
  const third = exampleNode('example node 3', { REPRAM_BOOTSTRAP_PEERS: `${address},${started2.multiaddrs[0]}` }, ['--json'])
  const started3 = await third.waitForEvent('started')
  assert.is.not(started2.http, url1)
  assert.equal(started2.bootstrap, [address])
  assert.is(started2.mdns, false)

  await first.waitForLine(l => l.text.includes('peer joined') && l.text.includes('(2 peers)'), 'two peers on node 1')
  await third.waitForEvent('peer:join', e => e.peerId === started2.peerId)

  const put = await fetch(`${url1}/v1/data/${encodeURIComponent('hello/world')}`, { method: 'PUT', headers: { 'X-TTL': '60' }, body: 'from node 1' })
  assert.ok(put.status === 201 || put.status === 202, `PUT answered ${put.status}`)
  await put.body?.cancel()
  for (const url of [started2.http, started3.http]) {
    const body = await waitFor(async () => {
      const res = await fetch(`${url}/v1/data/${encodeURIComponent('hello/world')}`)
      return res.ok ? await res.text() : (await res.body?.cancel(), undefined)
    }, { message: `hello/world on ${url}` })
    assert.is(body, 'from node 1')
  }

  for (const proc of [third, second, first]) {
    const exit = await proc.stop('SIGTERM')
    assert.equal(exit, { code: 0, signal: null }, proc.output())
  }
  assert.ok(first.lines.some(l => l.text.endsWith('stopped')), first.output())
})

examples('npm start stopped with SIGTERM, as a process manager stops it, stops the node too', async () => {
  // npm runs the script through a shell, which exits on the signal without
  // passing it on; the node notices its parent is gone and stops cleanly.
  const run = runNpmScript(['start', '--silent', '--', '--json'], cleanEnv({ REPRAM_MDNS: '0', REPRAM_LISTEN: '/ip4/127.0.0.1/tcp/0', PORT: '0' }), MARKER)
  const event = async (name: string, what: string, timeout?: number): Promise<Record<string, any>> =>
    JSON.parse(await run.waitForLine(l => l.startsWith(`{"event":"${name}"`), what, timeout))
  const url = (await event('started', 'the started event', 60_000)).http as string
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
  const node = await run.nodePid('examples/node.ts')
  const before = await fetch(`${url}/v1/status`)
  assert.ok(before.ok, 'the node answers')
  await before.body?.cancel()

  run.npm.kill('SIGTERM')
  await run.npmExit
  const stopping = await event('stopping', 'the node stopping')
  assert.is(stopping.reason, 'script ended')
  assert.is(stopping.signal, undefined, 'no signal reached the node')
  await event('stopped', 'the node stopped')
  await waitFor(() => !markedPids(MARKER).includes(node), { message: `node process ${node} gone` })
  const after = await fetch(`${url}/v1/status`).then(async res => { await res.body?.cancel(); return `answered ${res.status}` }, (err: Error) => err)
  assert.instance(after, Error, 'nothing answers on its port any more')
  assert.is((after as Error & { cause?: { code?: string } }).cause?.code, 'ECONNREFUSED')
})

examples('examples/embed.ts runs to completion and prints what happened', async () => {
  const r = await run([], { script: EMBED, timeout: 60_000 })
  assert.is(r.code, 0, `exit ${r.code}\n${r.out}\n${r.stderr}`)
  assert.equal(r.out.trim().split('\n').map(l => l.replace(/\d+ s,/, 'N s,').replace(/version \d+\.\d+$/, 'version V')), [
    'bob joined alice: alice has 1 peer',
    'alice stored greeting/en, version V',
    'bob saw: set greeting/en',
    'bob reads: hello from alice (expires in N s, on both nodes)'
  ])
})

examples.run()
