/** The node-level endpoints, routing, CORS and rate limiting, on one real node. */
import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RepramNode } from '../../src/index.ts'
import { startHttpServer } from '../../src/http/index.ts'
import { HttpMetrics } from '../../src/http/metrics.ts'
import { waitFor } from '../helpers/wait.ts'
import { parsePrometheus, serveNode, type Served } from './helpers.ts'

let s: Served

test.before(async () => {
  s = await serveNode({ network: 'api-test' })
})
test.after(async () => { await s?.stop() })

const url = (path: string): string => s.url + path
const json = async <T = any>(path: string, init?: RequestInit): Promise<{ status: number, body: T, res: Response }> => {
  const res = await fetch(url(path), init)
  return { status: res.status, body: await res.json() as T, res }
}

test('GET /v1/health and its alias /health', async () => {
  for (const path of ['/v1/health', '/health']) {
    const { status, body } = await json(path)
    assert.is(status, 200, path)
    assert.is(body.status, 'ok')
    assert.is(body.peer_id, s.node.peerId)
    assert.is(body.network, 'api-test')
    assert.is(body.peers, 0)
  }
})

test('GET /v1/status describes the node', async () => {
  await s.node.put('status-key', 'abc', { ttl: 60_000 })
  const { status, body } = await json('/v1/status')
  assert.is(status, 200)
  assert.is(body.peer_id, s.node.peerId)
  assert.is(body.network, 'api-test')
  assert.equal(body.addresses, s.node.multiaddrs)
  assert.ok(body.addresses.every((a: string) => a.endsWith(`/p2p/${s.node.peerId}`)))
  assert.is(body.peers, 0)
  assert.ok(body.entries >= 1)
  assert.ok(body.bytes >= 'status-key'.length + 3)
  assert.type(body.uptime_seconds, 'number')
  assert.is(body.version, JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version)
  assert.is(body.limits.min_ttl, 0.1)
  await s.node.delete('status-key')
})

test('GET /v1/topology lists peers (none here)', async () => {
  const { status, body } = await json('/v1/topology')
  assert.is(status, 200)
  assert.is(body.peer_id, s.node.peerId)
  assert.equal(body.peers, [])
})

test('GET /v1/keys pages through sorted keys with an opaque cursor', async () => {
  const names = Array.from({ length: 25 }, (_, i) => `page/${String(i).padStart(2, '0')}`)
  for (const k of [...names].reverse()) await s.node.put(k, 'v', { ttl: 60_000 })
  await s.node.put('other', 'v', { ttl: 60_000 })

  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const qs = new URLSearchParams({ prefix: 'page/', limit: '10' })
    if (cursor !== null) qs.set('cursor', cursor)
    const { status, body } = await json<{ keys: string[], next_cursor: string | null }>(`/v1/keys?${qs}`)
    assert.is(status, 200)
    assert.ok(body.keys.length <= 10)
    seen.push(...body.keys)
    cursor = body.next_cursor
    if (cursor !== null) assert.not.ok(cursor.includes('page/'), 'the cursor is not the raw key')
    pages++
  } while (cursor !== null && pages < 10)
  assert.is(pages, 3)
  assert.equal(seen, names)

  const all = await json<{ keys: string[], next_cursor: string | null }>('/v1/keys')
  assert.ok(all.body.keys.includes('other'))
  assert.equal(all.body.keys, [...all.body.keys].sort())
  assert.is(all.body.next_cursor, null)
})

test('GET /v1/keys refuses a bad limit or cursor with 400', async () => {
  for (const qs of ['limit=0', 'limit=abc', 'limit=10001', 'limit=-1', 'cursor=%%%']) {
    const { status, body } = await json(`/v1/keys?${qs}`)
    assert.is(status, 400, qs)
    assert.is(body.error, 'InvalidParameterError')
  }
})

test('GET /v1/metrics is Prometheus text with HTTP and node series', async () => {
  await fetch(url('/v1/data/metric-key'), { method: 'PUT', body: 'x' })
  await fetch(url('/v1/data/metric-key'))
  await fetch(url('/v1/data/missing-metric-key'))
  const res = await fetch(url('/v1/metrics'))
  assert.is(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
  const samples = parsePrometheus(await res.text())
  const find = (name: string, labels: Record<string, string> = {}): number | undefined =>
    samples.find(x => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value

  assert.ok((find('repram_http_requests_total', { route: '/v1/data/{key}', method: 'PUT', status: '202' }) ?? 0) >= 1)
  assert.ok((find('repram_http_requests_total', { route: '/v1/data/{key}', method: 'GET', status: '200' }) ?? 0) >= 1)
  assert.ok((find('repram_http_requests_total', { route: '/v1/data/{key}', method: 'GET', status: '404' }) ?? 0) >= 1)
  assert.not.ok(samples.some(x => Object.values(x.labels).some(v => v.includes('metric-key'))), 'keys never become labels')
  assert.ok((find('repram_http_request_duration_seconds_count', { route: '/v1/data/{key}', method: 'GET' }) ?? 0) >= 2)
  assert.is(find('repram_http_request_duration_seconds_bucket', { route: '/v1/data/{key}', method: 'GET', le: '+Inf' }),
    find('repram_http_request_duration_seconds_count', { route: '/v1/data/{key}', method: 'GET' }))

  const stats = s.node.stats()
  assert.is(find('repram_entries'), stats.entries)
  assert.is(find('repram_bytes'), stats.bytes)
  assert.is(find('repram_peers'), 0)
  assert.is(find('repram_node_started'), 1)
  assert.is(find('repram_puts_local_total'), stats.counters.putsLocal)
  assert.ok((find('repram_puts_local_total') ?? 0) >= 1)
  for (const name of ['repram_rejected_messages_total', 'repram_replicated_applied_total', 'repram_sync_rounds_total',
    'repram_sync_failures_total', 'repram_sync_buckets_skipped_total', 'repram_gossip_sent_total', 'repram_expired_total', 'repram_http_watch_streams', 'repram_tombstones']) {
    assert.type(find(name), 'number', name)
  }
})

test('a request whose client leaves before the answer counts as aborted', async () => {
  const metric = async (status: string): Promise<number> => {
    const samples = parsePrometheus(await (await fetch(url('/v1/metrics'))).text())
    return samples.find(x => x.name === 'repram_http_requests_total' && x.labels.method === 'PUT' &&
      x.labels.route === '/v1/data/{key}' && x.labels.status === status)?.value ?? 0
  }
  const before = await metric('aborted')
  // a PUT that promises 1000 bytes, sends 10 and hangs up: the handler is still reading the body
  const { port } = new URL(s.url)
  const received = new Promise(resolve => s.http.server.once('request', resolve))
  const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/v1/data/left-early', headers: { 'Content-Length': '1000' } })
  req.on('error', () => {})
  req.write('0123456789')
  await received
  req.destroy()
  await waitFor(async () => (await metric('aborted')) === before + 1 ? true : undefined, { message: 'the aborted PUT to be counted' })
  assert.is(await s.node.get('left-early'), undefined)
})

test('the request metrics are counted, rendered, and cleared by Registry.resetMetrics()', async () => {
  const metrics = new HttpMetrics(s.node)
  metrics.observeRequest('/v1/health', 'GET', 200, 0.002)
  metrics.observeRequest('/v1/health', 'GET', 200, 0.3)
  metrics.observeRequest('/v1/health', 'BREW', undefined, undefined)
  const samples = parsePrometheus(await metrics.render())
  const find = (name: string, labels: Record<string, string>): number | undefined =>
    samples.find(x => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value
  assert.is(find('repram_http_requests_total', { route: '/v1/health', method: 'GET', status: '200' }), 2)
  assert.is(find('repram_http_requests_total', { route: '/v1/health', method: 'OTHER', status: 'aborted' }), 1)
  assert.is(find('repram_http_request_duration_seconds_bucket', { route: '/v1/health', method: 'GET', le: '0.001' }), 0)
  assert.is(find('repram_http_request_duration_seconds_bucket', { route: '/v1/health', method: 'GET', le: '0.005' }), 1)
  assert.is(find('repram_http_request_duration_seconds_bucket', { route: '/v1/health', method: 'GET', le: '0.5' }), 2)
  assert.is(find('repram_http_request_duration_seconds_count', { route: '/v1/health', method: 'GET' }), 2)
  assert.ok(Math.abs((find('repram_http_request_duration_seconds_sum', { route: '/v1/health', method: 'GET' }) ?? 0) - 0.302) < 1e-9)

  metrics.registry.resetMetrics()
  const after = await metrics.render()
  assert.not.match(after, /repram_http_requests_total\{/)
  assert.not.match(after, /repram_http_request_duration_seconds_count\{/)
})

test('each handler has its own registry: two servers in one process do not collide', async () => {
  const other = await startHttpServer(s.node, { rateLimit: false })
  try {
    await fetch(other.url + '/v1/health')
    const text = await (await fetch(other.url + '/v1/metrics')).text()
    const samples = parsePrometheus(text)
    const health = samples.find(x => x.name === 'repram_http_requests_total' && x.labels.route === '/v1/health')
    assert.is(health?.value, 1)
  } finally {
    await other.close()
  }
})

test('unknown paths are 404 NotFoundError; a wrong method is 405 with Allow', async () => {
  for (const path of ['/', '/v1', '/v1/nope', '/v2/data/x', '/v1/health/extra']) {
    const { status, body } = await json(path)
    assert.is(status, 404, path)
    assert.is(body.error, 'NotFoundError')
  }
  const del = await json('/v1/health', { method: 'DELETE' })
  assert.is(del.status, 405)
  assert.is(del.body.error, 'MethodNotAllowedError')
  assert.is(del.res.headers.get('allow'), 'GET, HEAD, OPTIONS')
  const patch = await json('/v1/data/k', { method: 'PATCH', body: 'x' })
  assert.is(patch.status, 405)
  assert.is(patch.res.headers.get('allow'), 'GET, HEAD, PUT, POST, DELETE, OPTIONS')
  assert.is((await json('/v1/keys', { method: 'PUT', body: 'x' })).status, 405)
})

test('CORS: preflight 204 with methods and headers; responses expose the TTL headers', async () => {
  const pre = await fetch(url('/v1/data/some-key'), {
    method: 'OPTIONS',
    headers: { Origin: 'http://board.example', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'x-ttl, content-type' }
  })
  assert.is(pre.status, 204)
  assert.is(pre.headers.get('access-control-allow-origin'), '*')
  const methods = (pre.headers.get('access-control-allow-methods') ?? '').split(/,\s*/)
  for (const m of ['GET', 'PUT', 'POST', 'DELETE', 'HEAD']) assert.ok(methods.includes(m), m)
  const allowHeaders = (pre.headers.get('access-control-allow-headers') ?? '').toLowerCase()
  assert.ok(allowHeaders.includes('x-ttl') && allowHeaders.includes('content-type'))
  assert.ok(Number(pre.headers.get('access-control-max-age')) > 0)

  await fetch(url('/v1/data/cors-key'), { method: 'PUT', body: 'x' })
  const got = await fetch(url('/v1/data/cors-key'), { headers: { Origin: 'http://board.example' } })
  assert.is(got.headers.get('access-control-allow-origin'), '*')
  const exposed = (got.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/,\s*/)
  for (const h of ['x-ttl', 'x-expires-at', 'x-created-at', 'x-original-ttl', 'x-remaining-ttl', 'retry-after']) assert.ok(exposed.includes(h), h)

  const notFound = await fetch(url('/nowhere'), { headers: { Origin: 'http://board.example' } })
  assert.is(notFound.headers.get('access-control-allow-origin'), '*', 'errors carry CORS headers too')
  assert.is((await fetch(url('/nowhere'), { method: 'OPTIONS' })).status, 404)
})

test('CORS with a list of origins echoes allowed ones only; false sends none', async () => {
  const listed = await startHttpServer(s.node, { cors: ['http://a.example'], rateLimit: false })
  const none = await startHttpServer(s.node, { cors: false, rateLimit: false })
  try {
    const ok = await fetch(listed.url + '/v1/health', { headers: { Origin: 'http://a.example' } })
    assert.is(ok.headers.get('access-control-allow-origin'), 'http://a.example')
    assert.match(ok.headers.get('vary') ?? '', /Origin/)
    const other = await fetch(listed.url + '/v1/health', { headers: { Origin: 'http://evil.example' } })
    assert.is(other.headers.get('access-control-allow-origin'), null)
    const off = await fetch(none.url + '/v1/health', { headers: { Origin: 'http://a.example' } })
    assert.is(off.headers.get('access-control-allow-origin'), null)
    const pre = await fetch(none.url + '/v1/health', { method: 'OPTIONS' })
    assert.is(pre.status, 204)
    assert.is(pre.headers.get('access-control-allow-methods'), null)
  } finally {
    await listed.close()
    await none.close()
  }
})

test('rate limit: beyond the burst a client gets 429 with Retry-After; preflights are not counted', async () => {
  const limited = await startHttpServer(s.node, { rateLimit: { requestsPerSecond: 0.1, burst: 3 } })
  try {
    for (let i = 0; i < 5; i++) assert.is((await fetch(limited.url + '/v1/health', { method: 'OPTIONS' })).status, 204)
    for (let i = 0; i < 3; i++) assert.is((await fetch(limited.url + '/v1/health')).status, 200, `request ${i}`)
    const res = await fetch(limited.url + '/v1/data/anything', { headers: { Origin: 'http://x.example' } })
    assert.is(res.status, 429)
    // one token every 10 s: the wait is a little under that, rounded up
    const retryAfter = Number(res.headers.get('retry-after'))
    assert.ok(retryAfter >= 8 && retryAfter <= 10, `Retry-After: ${retryAfter}`)
    assert.is(res.headers.get('access-control-allow-origin'), '*')
    const body = await res.json() as { error: string }
    assert.is(body.error, 'RateLimitedError')
  } finally {
    await limited.close()
  }
})

test('a node that is not started: health 503 stopped, data 503 NotStartedError', async () => {
  const idle = new RepramNode({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
  const http = await startHttpServer(idle, { rateLimit: false })
  try {
    const health = await fetch(http.url + '/v1/health')
    assert.is(health.status, 503)
    assert.is(((await health.json()) as { status: string }).status, 'stopped')
    for (const [method, path] of [['GET', '/v1/data/k'], ['PUT', '/v1/data/k'], ['DELETE', '/v1/data/k'], ['GET', '/v1/status'], ['GET', '/v1/topology'], ['GET', '/v1/watch'], ['GET', '/v1/keys']]) {
      const res = await fetch(http.url + path, { method, body: method === 'PUT' ? 'x' : undefined })
      assert.is(res.status, 503, `${method} ${path}`)
      assert.is(((await res.json()) as { error: string }).error, 'NotStartedError')
    }
    const metrics = parsePrometheus(await (await fetch(http.url + '/v1/metrics')).text())
    assert.is(metrics.find(x => x.name === 'repram_node_started')?.value, 0)
  } finally {
    await http.close()
  }
})

test.run()
