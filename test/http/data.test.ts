/** `/v1/data/{key}` on one real node: every status the endpoint can answer. */
import { request } from 'node:http'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseTtl, decodeKey } from '../../src/http/data.ts'
import { startHttpServer, type HttpNode } from '../../src/http/index.ts'
import { waitFor } from '../helpers/wait.ts'
import { serveNode, type Served } from './helpers.ts'

let s: Served
const MAX_VALUE = 64 * 1024

test.before(async () => {
  s = await serveNode({ maxValueBytes: MAX_VALUE, maxEntries: 50, defaultTtl: 120_000, maxTtl: 3_600_000 })
})
test.after(async () => { await s?.stop() })

const url = (path: string): string => s.url + path
const put = async (key: string, body: string | Uint8Array, headers: Record<string, string> = {}, query = ''): Promise<Response> =>
  fetch(url(`/v1/data/${encodeURIComponent(key)}${query}`), { method: 'PUT', headers, body })

test('parseTtl: seconds from ?ttl= or X-TTL, query first, checked against the limits', () => {
  const config = { minTtl: 1000, maxTtl: 60_000, defaultTtl: 5000, maxValueBytes: 1, maxKeyBytes: 16, network: 'n', clock: Date.now }
  assert.is(parseTtl(new URLSearchParams(), undefined, config), undefined)
  assert.is(parseTtl(new URLSearchParams(), '', config), undefined)
  assert.is(parseTtl(new URLSearchParams(), '30', config), 30_000)
  assert.is(parseTtl(new URLSearchParams(), ' 1.5 ', config), 1500)
  assert.is(parseTtl(new URLSearchParams('ttl=2'), '30', config), 2000)
  assert.is(parseTtl(new URLSearchParams('ttl='), '30', config), 30_000, 'an empty ?ttl= is not given: X-TTL counts')
  assert.is(parseTtl(new URLSearchParams('ttl'), '30', config), 30_000, 'a bare ?ttl likewise')
  assert.is(parseTtl(new URLSearchParams('ttl= '), undefined, config), undefined)
  for (const bad of ['abc', '-5', '1e3', '0x10', 'Infinity', '5s', '1,2']) {
    assert.throws(() => parseTtl(new URLSearchParams(), bad, config), (err: Error) => err.name === 'InvalidTtlError', bad)
  }
  assert.throws(() => parseTtl(new URLSearchParams('ttl=0.5'), undefined, config), (err: Error) => err.name === 'InvalidTtlError' && /between 1 and 60 seconds/.test(err.message))
  assert.throws(() => parseTtl(new URLSearchParams('ttl=61'), undefined, config), (err: Error) => err.name === 'InvalidTtlError')
  assert.throws(() => parseTtl(new URLSearchParams(), '9999999999999', config), (err: Error) => err.name === 'InvalidTtlError' && /between 1 and 60 seconds, got 9999999999999/.test(err.message), 'too many digits: out of range, not "not a number"')
  assert.throws(() => parseTtl(new URLSearchParams(), '9'.repeat(400), config), (err: Error) => err.name === 'InvalidTtlError' && /between 1 and 60 seconds, got 9{40}…$/.test(err.message), 'a huge number is out of range, and shortened')
  // What only looks long is still the number it is.
  assert.is(parseTtl(new URLSearchParams(), '0000000000030', config), 30_000)
  assert.is(parseTtl(new URLSearchParams(), '1.0000000001', config), 1000)
  assert.is(parseTtl(new URLSearchParams('ttl=1.9999'), undefined, config), 2000)
})

test('decodeKey: percent-decoding, malformed escapes are an invalid key', () => {
  assert.is(decodeKey('a%20b%2Fc'), 'a b/c')
  assert.is(decodeKey('caf%C3%A9'), 'café')
  assert.throws(() => decodeKey('bad%zz'), (err: Error) => err.name === 'InvalidKeyError')
  assert.throws(() => decodeKey('%C3'), (err: Error) => err.name === 'InvalidKeyError')
})

test('PUT stores the body with TTL headers and a JSON receipt; alone, it answers 202 at once', async () => {
  const before = Date.now()
  const res = await put('greeting', 'hello', { 'X-TTL': '60', 'Content-Type': 'text/plain; charset=utf-8' })
  assert.ok(Date.now() - before < 1500, 'no wait for a quorum that cannot come')
  assert.is(res.status, 202)
  assert.is(res.headers.get('x-ttl'), '60')
  const body = await res.json() as { key: string, expires_at: string, version: string, confirmations: number }
  assert.is(body.key, 'greeting')
  assert.is(body.confirmations, 0)
  assert.is(res.headers.get('x-expires-at'), body.expires_at)
  const expiresAt = Date.parse(body.expires_at)
  assert.ok(Math.abs(expiresAt - (before + 60_000)) < 2000, `expires in about 60 s: ${body.expires_at}`)
  const entry = await s.node.get('greeting')
  assert.is(new TextDecoder().decode(entry?.value), 'hello')
  assert.is(entry?.contentType, 'text/plain; charset=utf-8')
  assert.is(entry?.version, body.version)
})

test('GET returns the raw bytes, the stored Content-Type and the TTL headers', async () => {
  await put('doc', '{"a":1}', { 'X-TTL': '100', 'Content-Type': 'application/json' })
  const res = await fetch(url('/v1/data/doc'))
  assert.is(res.status, 200)
  assert.is(await res.text(), '{"a":1}')
  assert.is(res.headers.get('content-type'), 'application/json')
  assert.is(res.headers.get('x-original-ttl'), '100')
  const remaining = Number(res.headers.get('x-remaining-ttl'))
  assert.ok(remaining >= 98 && remaining <= 100, `remaining ${remaining}`)
  const created = Date.parse(res.headers.get('x-created-at') ?? '')
  const expires = Date.parse(res.headers.get('x-expires-at') ?? '')
  assert.ok(Number.isFinite(created) && Number.isFinite(expires))
  assert.is(Math.round((expires - created) / 1000), 100)
  assert.is(res.headers.get('x-content-type-options'), 'nosniff')
  assert.ok(res.headers.get('x-version'))
})

test('binary values round-trip; no Content-Type means application/octet-stream', async () => {
  const bytes = new Uint8Array(256).map((_, i) => i)
  const res = await put('bin', bytes)
  assert.is(res.status, 202)
  const got = await fetch(url('/v1/data/bin'))
  assert.is(got.headers.get('content-type'), 'application/octet-stream')
  assert.equal(new Uint8Array(await got.arrayBuffer()), bytes)
})

test('without a TTL the node default applies; ?ttl= works like X-TTL and wins over it', async () => {
  const res = await put('dflt', 'x')
  assert.is(res.headers.get('x-ttl'), '120')
  const q = await put('query', 'x', { 'X-TTL': '50' }, '?ttl=30')
  assert.is(q.headers.get('x-ttl'), '30')
  const got = await fetch(url('/v1/data/query'))
  assert.is(got.headers.get('x-original-ttl'), '30')
})

test('POST is the same as PUT', async () => {
  const res = await fetch(url('/v1/data/posted'), { method: 'POST', headers: { 'X-TTL': '10' }, body: 'p' })
  assert.is(res.status, 202)
  assert.is(await (await fetch(url('/v1/data/posted'))).text(), 'p')
})

test('HEAD answers the headers of GET without a body', async () => {
  await put('head-me', 'twelve bytes', { 'Content-Type': 'text/plain' })
  const res = await fetch(url('/v1/data/head-me'), { method: 'HEAD' })
  assert.is(res.status, 200)
  assert.is(res.headers.get('content-length'), '12')
  assert.is(res.headers.get('content-type'), 'text/plain')
  assert.ok(res.headers.get('x-remaining-ttl'))
  assert.is(await res.text(), '')
  assert.is((await fetch(url('/v1/data/never-there'), { method: 'HEAD' })).status, 404)
})

test('a node without getSync is served through its async get: same bytes and headers, 404 when absent', async () => {
  await put('async-only', 'via get()', { 'X-TTL': '100', 'Content-Type': 'text/plain' })
  const node = s.node
  let asyncReads = 0
  // every member the adapter uses, except getSync
  const asyncOnly: HttpNode = {
    get config () { return node.config },
    get started () { return node.started },
    get peerId () { return node.peerId },
    get multiaddrs () { return node.multiaddrs },
    get peers () { return node.peers },
    peerInfo: () => node.peerInfo(),
    put: async (k, v, o) => node.put(k, v, o),
    get: async (k, o) => { asyncReads++; return node.get(k, o) },
    delete: async (k, o) => node.delete(k, o),
    keys: o => node.keys(o),
    watch: o => node.watch(o),
    stats: () => node.stats()
  }
  const http = await startHttpServer(asyncOnly, { rateLimit: false })
  try {
    const res = await fetch(`${http.url}/v1/data/async-only`)
    assert.is(res.status, 200)
    assert.is(await res.text(), 'via get()')
    assert.is(res.headers.get('content-type'), 'text/plain')
    assert.is(res.headers.get('x-original-ttl'), '100')
    assert.is(res.headers.get('access-control-allow-origin'), '*')
    const missing = await fetch(`${http.url}/v1/data/not-there`)
    assert.is(missing.status, 404)
    assert.is(((await missing.json()) as { error: string }).error, 'KeyNotFoundError')
    assert.is(asyncReads, 2)
  } finally {
    await http.close()
  }
})

test('GET of an absent key is 404 with a JSON error', async () => {
  const res = await fetch(url('/v1/data/nothing-here'))
  assert.is(res.status, 404)
  assert.is(((await res.json()) as { error: string }).error, 'KeyNotFoundError')
})

test('an entry past its TTL is 404 (real time)', async () => {
  const res = await put('short', 'brief', { 'X-TTL': '0.3' })
  assert.is(res.status, 202)
  assert.is((await fetch(url('/v1/data/short'))).status, 200)
  await waitFor(async () => (await fetch(url('/v1/data/short'))).status === 404, { timeout: 5000, message: 'the entry to expire' })
})

test('Expect: 100-continue: a body too large by its Content-Length, or a bad key, is refused before the client uploads it; one that fits is asked for', async () => {
  const ask = async (key: string, length: number): Promise<{ status: number, continued: boolean }> => await new Promise((resolve, reject) => {
    const u = new URL(url(`/v1/data/${key}`))
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'PUT', headers: { Expect: '100-continue', 'Content-Length': String(length), 'X-TTL': '60' } })
    let continued = false
    req.on('continue', () => { continued = true; req.end(Buffer.alloc(length, 0x61)) })
    req.on('response', res => { res.resume(); res.on('end', () => { resolve({ status: res.statusCode!, continued }); req.destroy() }) })
    req.on('error', err => { if (!continued) reject(err) })
    req.flushHeaders()
  })
  assert.equal(await ask('expect/large', MAX_VALUE + 1), { status: 413, continued: false })
  assert.equal(await ask('k'.repeat(600), 100), { status: 400, continued: false }, 'a key over maxKeyBytes')
  assert.equal(await ask('control%01char', 100), { status: 400, continued: false }, 'a key with a control character')
  assert.equal(await ask('expect/fits', 100), { status: 202, continued: true })
  assert.is((await fetch(url('/v1/data/expect/fits'))).status, 200)
})

test('an absolute-form request target (as sent to a proxy) is served like its path', async () => {
  const send = async (method: string, target: string, body?: string): Promise<{ status: number, text: string }> => await new Promise((resolve, reject) => {
    const u = new URL(s.url)
    const req = request({ host: u.hostname, port: u.port, method, path: target, headers: body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(body)) } })
    req.on('response', res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => { resolve({ status: res.statusCode!, text }) })
    })
    req.on('error', reject)
    req.end(body)
  })
  assert.is((await send('PUT', `${s.url}/v1/data/absolute/form?ttl=60`, 'via a proxy')).status, 202)
  assert.equal(await send('GET', `${s.url.replace('http://', 'HTTP://')}/v1/data/absolute/form`), { status: 200, text: 'via a proxy' })
  assert.is((await send('GET', `${s.url}?x=1`)).status, 404, 'an authority alone is the path /')
  assert.is((await send('GET', `//${new URL(s.url).host}/v1/data/absolute/form`)).status, 404, 'a path that starts with // is not an authority')
})

test('DELETE answers 204 when the key existed, then 404', async () => {
  await put('doomed', 'x')
  const first = await fetch(url('/v1/data/doomed'), { method: 'DELETE' })
  assert.is(first.status, 204)
  assert.is(await first.text(), '')
  assert.is((await fetch(url('/v1/data/doomed'))).status, 404)
  const second = await fetch(url('/v1/data/doomed'), { method: 'DELETE' })
  assert.is(second.status, 404)
  const body = (await second.json()) as { error: string, message: string }
  assert.is(body.error, 'KeyNotFoundError')
  assert.match(body.message, /nothing was deleted/, 'says nothing was sent, not that a deletion replicates')
})

test('keys are percent-decoded; slashes may be raw or escaped', async () => {
  await put('dir/sub key é', 'v')
  assert.ok(s.node.keys().includes('dir/sub key é'))
  assert.is((await fetch(url('/v1/data/dir/sub%20key%20%C3%A9'))).status, 200)
  assert.is((await fetch(url('/v1/data/dir%2Fsub%20key%20%C3%A9'))).status, 200)
})

test('the seed-era alias /data/{key} serves the same data', async () => {
  const res = await fetch(url('/data/alias-key'), { method: 'PUT', headers: { 'X-TTL': '10' }, body: 'via alias' })
  assert.is(res.status, 202)
  assert.is(await (await fetch(url('/v1/data/alias-key'))).text(), 'via alias')
  assert.is(await (await fetch(url('/data/alias-key'))).text(), 'via alias')
})

test('bad TTLs are 400 InvalidTtlError and store nothing', async () => {
  for (const ttl of ['abc', '-1', '0', '0.05', '999999', '1e2']) {
    const res = await put('bad-ttl', 'x', { 'X-TTL': ttl })
    assert.is(res.status, 400, `X-TTL: ${ttl}`)
    const body = await res.json() as { error: string, message: string }
    assert.is(body.error, 'InvalidTtlError')
    assert.type(body.message, 'string')
  }
  assert.is((await put('bad-ttl', 'x', {}, '?ttl=nope')).status, 400)
  assert.is(await s.node.get('bad-ttl'), undefined)
})

test('invalid keys are 400 InvalidKeyError: empty, too long, malformed escapes', async () => {
  const empty = await fetch(url('/v1/data/'), { method: 'PUT', body: 'x' })
  assert.is(empty.status, 400)
  assert.is(((await empty.json()) as { error: string }).error, 'InvalidKeyError')
  const long = await put('k'.repeat(600), 'x')
  assert.is(long.status, 400)
  assert.is(((await long.json()) as { error: string }).error, 'InvalidKeyError')
  for (const path of ['/v1/data/bad%zzkey', '/v1/data/%E0%A4%A', '/v1/data/%C3']) {
    const res = await fetch(url(path))
    assert.is(res.status, 400, path)
    const body = await res.json() as { error: string }
    assert.is(body.error, 'InvalidKeyError')
    assert.is((await fetch(url(path), { method: 'PUT', body: 'x' })).status, 400)
    assert.is((await fetch(url(path), { method: 'DELETE' })).status, 400)
  }
})

test('a body over the limit with Content-Length is 413 ValueTooLargeError', async () => {
  const res = await put('big', new Uint8Array(MAX_VALUE + 1))
  assert.is(res.status, 413)
  const body = await res.json() as { error: string, message: string }
  assert.is(body.error, 'ValueTooLargeError')
  assert.is(body.message, `value is ${MAX_VALUE + 1} bytes, larger than maxBodyBytes (${MAX_VALUE})`, 'the HTTP option that refused it')
  assert.is(await s.node.get('big'), undefined)
  // exactly the limit is fine
  assert.is((await put('big', new Uint8Array(MAX_VALUE))).status, 202)
})

test('a huge chunked body without Content-Length is cut off with 413 as soon as it passes the limit', async () => {
  const { port } = new URL(s.url)
  const chunk = Buffer.alloc(16 * 1024, 7)
  const maxChunks = 1024 // 16 MiB at most: the server must answer long before
  let sent = 0
  const result = await new Promise<{ status: number, body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/v1/data/chunked', headers: { 'Transfer-Encoding': 'chunked' } })
    let answered = false
    req.on('response', res => {
      answered = true
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
      res.on('error', reject)
    })
    // once the server hangs up, writing fails: expected, the response tells the outcome
    req.on('error', err => { if (!answered) reject(err) })
    const pump = (): void => {
      while (!answered && sent < maxChunks) {
        sent++
        if (!req.write(chunk)) {
          req.once('drain', pump)
          return
        }
      }
      if (!answered) req.end()
    }
    assert.is(req.getHeader('content-length'), undefined)
    pump()
  })
  assert.is(result.status, 413)
  assert.is((JSON.parse(result.body) as { error: string }).error, 'ValueTooLargeError')
  assert.ok(sent < maxChunks, `the server answered before the whole body was sent (${sent} chunks sent)`)
  assert.is(await s.node.get('chunked'), undefined)
})

test('a full store answers 507 StoreFullError', async () => {
  const keys: string[] = []
  try {
    let last: Response | undefined
    for (let i = 0; i < 60; i++) {
      const key = `fill-${i}`
      last = await put(key, 'x')
      if (last.status === 507) break
      keys.push(key)
    }
    assert.is(last?.status, 507)
    assert.is(((await last!.json()) as { error: string }).error, 'StoreFullError')
  } finally {
    for (const key of keys) await s.node.delete(key)
  }
})

test('error bodies are JSON { error, message } and never echo the value', async () => {
  const secret = 'top-secret-value-' + 'x'.repeat(MAX_VALUE)
  const res = await put('leak', secret)
  const text = await res.text()
  assert.is(res.status, 413)
  assert.is(res.headers.get('content-type'), 'application/json; charset=utf-8')
  assert.not.ok(text.includes('top-secret'))
  assert.equal(Object.keys(JSON.parse(text)).sort(), ['error', 'message'])
})

test.run()
