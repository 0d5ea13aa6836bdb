/**
 * The `repram` CLI end to end: three `repram start` processes joined by
 * --bootstrap on loopback, driven by the client commands as a user would,
 * then stopped by signals.
 */
import { createServer } from 'node:net'
import { randomBytes } from 'node:crypto'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { waitFor } from '../helpers/wait.ts'
import { CLI, LOOPBACK, LineProcess, cleanEnv, killAll, run, startNode } from './helpers.ts'
import type { NodeInfo } from './helpers.ts'

const cli = suite('repram cluster')

interface Started { proc: LineProcess, info: NodeInfo, url: string }
const nodes: Started[] = []

/** A loopback port that nothing listens on (bound, then released). */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  return port
}

/** Whether `key` is live on the node at `url`, asked over HTTP directly (cheaper than a CLI process per poll). */
async function has (url: string, key: string): Promise<boolean> {
  const res = await fetch(`${url}/v1/data/${encodeURIComponent(key)}`)
  await res.body?.cancel()
  return res.ok
}

/** Waits until `key` has replicated to (or, with `present` false, been deleted from) the node at `url`. */
async function replicated (url: string, key: string, present = true): Promise<void> {
  await waitFor(async () => (await has(url, key)) === present, { message: `${key} ${present ? 'on' : 'gone from'} ${url}` })
}

cli.before(async () => {
  const first = await startNode(LOOPBACK, { label: 'node 1' })
  nodes.push({ ...first, url: first.info.http as string })
  // Each node bootstraps from all before it: without mDNS or the DHT, nodes only meet the peers they are given.
  for (const label of ['node 2', 'node 3']) {
    // Node 3 also logs every change (--verbose).
    const extra = label === 'node 3' ? ['--verbose'] : []
    const next = await startNode([...LOOPBACK, ...extra, '--bootstrap', nodes.map(n => n.info.multiaddrs[0]).join(',')], { label })
    nodes.push({ ...next, url: next.info.http as string })
  }
  // Every node sees the two others join: the cluster is formed.
  for (const n of nodes) {
    for (const other of nodes.filter(o => o !== n)) {
      await n.proc.waitForEvent('peer:join', e => e.peerId === other.info.peerId)
    }
  }
})

cli.after(async () => {
  await Promise.allSettled(nodes.map(async n => await n.proc.stop('SIGKILL')))
  killAll()
})

cli('startup line describes the node', () => {
  for (const { info } of nodes) {
    assert.match(info.peerId, /^12D3KooW/)
    assert.ok(info.multiaddrs.every(a => a.startsWith('/ip4/127.0.0.1/tcp/') && a.endsWith(`/p2p/${info.peerId}`)), info.multiaddrs.join(' '))
    assert.match(info.http ?? '', /^http:\/\/127\.0\.0\.1:\d+$/)
  }
  assert.is(new Set(nodes.map(n => n.info.peerId)).size, 3)
})

cli('put on one node, get the same bytes on the others', async () => {
  const put = await run(['put', 'greeting', 'hello world', '--ttl', '60', '--url', nodes[0].url])
  assert.is(put.code, 0, put.stderr)
  assert.match(put.out, /^greeting: stored/)
  for (const n of nodes.slice(1)) {
    await replicated(n.url, 'greeting')
    const got = await run(['get', 'greeting', '--url', n.url])
    assert.is(got.code, 0, got.stderr)
    assert.is(got.out, 'hello world')
  }
  // node 3 runs with --verbose: it logged the replicated write.
  const logged = await nodes[2].proc.waitForEvent('set', e => e.key === 'greeting')
  assert.equal({ local: logged.local, origin: logged.origin, bytes: logged.bytes }, { local: false, origin: nodes[0].info.peerId, bytes: 11 })
  assert.not.ok(nodes[1].proc.lines.some(l => l.json?.event === 'set'), 'node 2 runs without --verbose')
})

cli('put reads binary values from stdin and get writes them back raw', async () => {
  const value = Buffer.concat([Buffer.from([0, 255, 10, 13]), randomBytes(2000)])
  const put = await run(['put', 'bin/blob', '-', '--ttl', '5m', '--url', nodes[1].url], { input: value })
  assert.is(put.code, 0, put.stderr)
  await replicated(nodes[2].url, 'bin/blob')
  const got = await run(['get', 'bin/blob', '--url', nodes[2].url])
  assert.is(got.code, 0, got.stderr)
  assert.ok(got.stdout.equals(value), `got ${got.stdout.byteLength} bytes, expected ${value.byteLength}`)

  const meta = await run(['get', 'bin/blob', '--json', '--url', nodes[2].url])
  assert.is(meta.code, 0, meta.stderr)
  const json = JSON.parse(meta.out)
  assert.is(json.encoding, 'base64')
  assert.ok(Buffer.from(json.value, 'base64').equals(value))
  assert.ok(json.remainingTtl > 200 && json.remainingTtl <= 300, `remainingTtl ${json.remainingTtl}`)

  // Text with a leading byte-order mark comes back as text with the mark: the same bytes.
  const bom = Buffer.from([0xef, 0xbb, 0xbf, 0x68, 0x69])
  assert.is((await run(['put', 'bin/bom', '-', '--url', nodes[1].url], { input: bom })).code, 0)
  const text = JSON.parse((await run(['get', 'bin/bom', '--json', '--url', nodes[1].url])).out)
  assert.equal([text.encoding, text.value], ['utf8', '\ufeffhi'])
})

cli('keys pages through every key, with and without a prefix', async () => {
  const names = ['list/d', 'list/b', 'list/c', 'list/a', 'other']
  for (const key of names) {
    const res = await fetch(`${nodes[0].url}/v1/data/${encodeURIComponent(key)}`, { method: 'PUT', headers: { 'X-TTL': '60' }, body: 'v' })
    assert.ok(res.ok, `PUT ${key}: ${res.status}`)
    await res.body?.cancel()
  }
  for (const key of names) await replicated(nodes[2].url, key)
  // Page size 2 takes two requests for the four list/ keys.
  const listed = await run(['keys', '--prefix', 'list/', '--page-size', '2', '--url', nodes[2].url])
  assert.is(listed.code, 0, listed.stderr)
  assert.equal(listed.out.trim().split('\n'), ['list/a', 'list/b', 'list/c', 'list/d'])
  const all = await run(['keys', '--json', '--url', nodes[0].url])
  assert.is(all.code, 0, all.stderr)
  const keys = JSON.parse(all.out) as string[]
  for (const key of [...names, 'greeting']) assert.ok(keys.includes(key), `${key} in ${all.out}`)
  assert.equal(keys, [...keys].sort())
})

cli('delete on one node removes the key everywhere; get then exits 1', async () => {
  const put = await run(['put', 'doomed', 'x', '--ttl', '60', '--url', nodes[0].url])
  assert.is(put.code, 0, put.stderr)
  await replicated(nodes[1].url, 'doomed')
  const del = await run(['delete', 'doomed', '--url', nodes[1].url])
  assert.is(del.code, 0, del.stderr)
  assert.match(del.out, /doomed: deleted/)
  await replicated(nodes[0].url, 'doomed', false)
  await replicated(nodes[2].url, 'doomed', false)
  const gone = await run(['get', 'doomed', '--url', nodes[0].url])
  assert.is(gone.code, 1)
  assert.match(gone.stderr, /not found: "doomed"/)
  assert.is(gone.out, '')
  const again = await run(['delete', 'doomed', '--url', nodes[1].url])
  assert.is(again.code, 1)
  assert.match(again.stderr, /not found/)
})

cli('status shows every node up with its peers; a dead URL makes it exit 1', async () => {
  const urls = nodes.map(n => n.url).join(',')
  const json = await run(['status', '--json', '--url', urls])
  assert.is(json.code, 0, json.stderr)
  const rows = JSON.parse(json.out) as Array<Record<string, any>>
  assert.is(rows.length, 3)
  rows.forEach((row, i) => {
    assert.is(row.reachable, true)
    assert.is(row.peerId, nodes[i].info.peerId)
    assert.is(row.peers, 2)
    assert.ok(row.entries >= 1, `entries ${row.entries}`)
  })

  const dead = `http://127.0.0.1:${await closedPort()}`
  const table = await run(['status', '--url', urls, '--url', dead])
  assert.is(table.code, 1)
  const lines = table.out.trim().split('\n')
  assert.match(lines[0], /URL\s+STATE\s+PEER ID\s+PEERS\s+ENTRIES\s+BYTES\s+UPTIME/)
  assert.is(lines.length, 5)
  for (let i = 0; i < 3; i++) {
    assert.ok(lines[i + 1].startsWith(nodes[i].url), lines[i + 1])
    assert.match(lines[i + 1], /\sup\s+12D3…\S+\s+2\s/)
  }
  assert.match(lines[4], new RegExp(`^${dead}\\s+down: connection refused`))
})

cli('status --watch refreshes until Ctrl-C, then exits 0', async () => {
  const watch = new LineProcess(CLI, ['status', '--watch', '--json', '--interval', '0.2', '--url', nodes.map(n => n.url).join(',')], cleanEnv(), 'repram status --watch')
  try {
    // Two snapshots: it keeps refreshing.
    await watch.waitForLine(l => Array.isArray(l.json?.nodes), 'a first snapshot')
    await watch.waitForLine(l => Array.isArray(l.json?.nodes) && l !== watch.lines[0], 'a second snapshot')
    const snapshot = watch.lines[0].json as { nodes: Array<Record<string, any>> }
    assert.equal(snapshot.nodes.map(n => [n.url, n.reachable, n.peers]), nodes.map(n => [n.url, true, 2]))
    const exit = await watch.stop('SIGINT')
    assert.equal(exit, { code: 0, signal: null }, watch.output())
  } finally {
    await watch.stop('SIGKILL')
  }
})

cli('watch tails changes made on another node, and stops on SIGINT with exit 0', async () => {
  const watch = new LineProcess(CLI, ['watch', '--json', '--prefix', 'watched/', '--url', nodes[0].url], cleanEnv(), 'repram watch')
  try {
    await watch.waitForEvent('connected')
    const put = await run(['put', 'watched/one', 'seen?', '--ttl', '60', '--url', nodes[2].url])
    assert.is(put.code, 0, put.stderr)
    await (await fetch(`${nodes[2].url}/v1/data/unwatched`, { method: 'PUT', headers: { 'X-TTL': '60' }, body: 'x' })).body?.cancel()
    const set = await watch.waitForEvent('set', e => e.key === 'watched/one')
    assert.is(set.value, 'seen?')
    assert.is(set.local, false)
    assert.is(set.origin, nodes[2].info.peerId)
    const del = await run(['delete', 'watched/one', '--url', nodes[1].url])
    assert.is(del.code, 0, del.stderr)
    await watch.waitForEvent('delete', e => e.key === 'watched/one')
    assert.not.ok(watch.lines.some(l => l.json?.key === 'unwatched'), 'prefix filter')
    const exit = await watch.stop('SIGINT')
    assert.equal(exit, { code: 0, signal: null }, watch.output())
  } finally {
    await watch.stop('SIGKILL')
  }
})

cli('a 404 that is not about the key (a wrong --url path) is reported as the server said, not as a missing key', async () => {
  const [a] = nodes
  for (const command of ['get', 'delete']) {
    const wrong = await run([command, 'some-key', '--url', `${a.url}/prefix/`])
    assert.is(wrong.code, 1, wrong.stderr)
    assert.match(wrong.stderr, /no such endpoint \(HTTP 404/, `${command}: ${wrong.stderr}`)
    assert.not.match(wrong.stderr, /absent, deleted or expired/)
  }
  const missing = await run(['get', `never-written/${randomBytes(4).toString('hex')}`, '--url', a.url])
  assert.is(missing.code, 1)
  assert.match(missing.stderr, /not found: ".*" \(absent, deleted or expired\)/)
})

cli('a node stops at once on SIGTERM while a write waits for its confirmations, and answers that write 202', async () => {
  // More confirmations than the cluster can give and a long wait: the PUT is still waiting when the signal comes.
  const waiting = await startNode([...LOOPBACK, '--write-quorum', '5', '--write-timeout', '60', '--bootstrap', nodes[0].info.multiaddrs[0]], { label: 'quorum node' })
  try {
    await waiting.proc.waitForEvent('peer:join', e => e.peerId === nodes[0].info.peerId)
    const key = `stop-while-waiting/${randomBytes(4).toString('hex')}`
    let answered = false
    const put = fetch(`${waiting.info.http as string}/v1/data/${key}`, { method: 'PUT', body: 'v', headers: { 'X-TTL': '60' } })
      .then(async res => { answered = true; return { status: res.status, body: await res.json() as { confirmations: number } } })
    await replicated(nodes[0].url, key) // stored and sent: now waiting for confirmations
    assert.not.ok(answered, 'the write is still waiting')
    const started = Date.now()
    const exit = await waiting.proc.stop('SIGTERM', 10_000)
    assert.equal(exit, { code: 0, signal: null }, waiting.proc.output())
    assert.ok(Date.now() - started < 8000, `stopped in ${Date.now() - started} ms`)
    const res = await put
    assert.is(res.status, 202, 'stored, not confirmed')
    assert.ok(res.body.confirmations < 5)
  } finally {
    await waiting.proc.stop('SIGKILL')
  }
})

cli('SIGTERM and SIGINT stop nodes gracefully with exit 0', async () => {
  const [a, b, c] = nodes
  const exitA = await a.proc.stop('SIGTERM')
  assert.equal(exitA, { code: 0, signal: null }, a.proc.output())
  assert.ok(a.proc.lines.some(l => l.json?.event === 'stopped'), a.proc.output())
  // The others notice node 1 leaving.
  await b.proc.waitForEvent('peer:leave', e => e.peerId === a.info.peerId)
  const exitB = await b.proc.stop('SIGINT')
  assert.equal(exitB, { code: 0, signal: null }, b.proc.output())
  const exitC = await c.proc.stop('SIGTERM')
  assert.equal(exitC, { code: 0, signal: null }, c.proc.output())
})

cli.run()
