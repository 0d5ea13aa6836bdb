/** `/v1/watch`: Server-Sent Events from a real node, read with fetch. */
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { changeEvent, formatEvent } from '../../src/http/sse.ts'
import { startHttpServer } from '../../src/http/index.ts'
import { waitFor } from '../helpers/wait.ts'
import { parsePrometheus, serveNode, SseReader, type Served } from './helpers.ts'
import type { Entry } from '../../src/index.ts'

let s: Served

test.before(async () => {
  s = await serveNode({}, { watchKeepAlive: 100, watchValueMaxBytes: 16 })
})
test.after(async () => { await s?.stop() })

const entry = (value: Uint8Array, extra: Partial<Entry> = {}): Entry => ({
  key: 'k', value, expiresAt: Date.UTC(2030, 0, 1), createdAt: Date.UTC(2029, 11, 31), version: '1.0', origin: 'peer', ...extra
})

test('changeEvent: UTF-8 values as text, others as base64, large ones left out', () => {
  const text = changeEvent({ type: 'set', key: 'k', entry: entry(new TextEncoder().encode('héllo'), { contentType: 'text/plain' }), local: true }, 64)
  assert.is(text.event, 'set')
  assert.equal(text.data, {
    key: 'k', version: '1.0', origin: 'peer', local: true, created_at: '2029-12-31T00:00:00.000Z', expires_at: '2030-01-01T00:00:00.000Z',
    size: 6, content_type: 'text/plain', value: 'héllo', encoding: 'utf8'
  })
  const bom = changeEvent({ type: 'set', key: 'k', entry: entry(new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69])), local: false }, 64)
  assert.equal([bom.data.value, bom.data.encoding, bom.data.size], ['\ufeffhi', 'utf8', 5], 'a leading byte-order mark is part of the value')
  const binary = changeEvent({ type: 'set', key: 'k', entry: entry(new Uint8Array([0xff, 0xfe, 0x00])), local: false }, 64)
  assert.is(binary.data.encoding, 'base64')
  assert.is(binary.data.value, '//4A')
  const large = changeEvent({ type: 'set', key: 'k', entry: entry(new Uint8Array(65)), local: false }, 64)
  assert.is(large.data.value, undefined)
  assert.is(large.data.encoding, undefined)
  assert.is(large.data.size, 65)
  assert.equal(changeEvent({ type: 'delete', key: 'k', version: '2.0', origin: 'p', local: false }, 64),
    { event: 'delete', data: { key: 'k', version: '2.0', origin: 'p', local: false } })
  assert.equal(changeEvent({ type: 'expire', key: 'k', expiresAt: Date.UTC(2030, 0, 1) }, 64),
    { event: 'expire', data: { key: 'k', expires_at: '2030-01-01T00:00:00.000Z' } })
})

test('formatEvent: one data line even when the value has line breaks', () => {
  const frame = formatEvent({ event: 'set', data: { value: 'a\nb\r\nc' } })
  assert.is(frame, 'event: set\ndata: {"value":"a\\nb\\r\\nc"}\n\n')
})

async function openWatch (url: string, signal?: AbortSignal): Promise<{ res: Response, sse: SseReader }> {
  const res = await fetch(url, { signal })
  assert.is(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
  const sse = new SseReader(res)
  await sse.comment('watching')
  return { res, sse }
}

async function openStreams (url: string): Promise<number> {
  const text = await (await fetch(url + '/v1/metrics')).text()
  return parsePrometheus(text).find(x => x.name === 'repram_http_watch_streams')?.value ?? NaN
}

test('a set and a delete arrive as events, filtered by prefix', async () => {
  const { sse } = await openWatch(`${s.url}/v1/watch?prefix=${encodeURIComponent('board/')}`)
  try {
    await fetch(`${s.url}/v1/data/elsewhere`, { method: 'PUT', body: 'not for us' })
    const put = await fetch(`${s.url}/v1/data/board%2F1`, { method: 'PUT', headers: { 'X-TTL': '30', 'Content-Type': 'text/plain' }, body: 'hi there' })
    const receipt = await put.json() as { version: string, expires_at: string }

    const set = await sse.next()
    assert.is(set.event, 'set')
    const data = JSON.parse(set.data)
    assert.is(data.key, 'board/1')
    assert.is(data.value, 'hi there')
    assert.is(data.encoding, 'utf8')
    assert.is(data.content_type, 'text/plain')
    assert.is(data.version, receipt.version)
    assert.is(data.expires_at, receipt.expires_at)
    assert.is(data.local, true)
    assert.is(data.origin, s.node.peerId)

    assert.is((await fetch(`${s.url}/v1/data/board%2F1`, { method: 'DELETE' })).status, 204)
    const del = await sse.next()
    assert.is(del.event, 'delete')
    assert.is(JSON.parse(del.data).key, 'board/1')
  } finally {
    await sse.cancel()
  }
})

test('binary and large values: base64 flag, or no value', async () => {
  const { sse } = await openWatch(`${s.url}/v1/watch?prefix=enc-`)
  try {
    await fetch(`${s.url}/v1/data/enc-bin`, { method: 'PUT', body: new Uint8Array([0xc3, 0x28]) })
    const bin = JSON.parse((await sse.next()).data)
    assert.is(bin.encoding, 'base64')
    assert.is(Buffer.from(bin.value, 'base64').toString('hex'), 'c328')
    await fetch(`${s.url}/v1/data/enc-big`, { method: 'PUT', body: 'x'.repeat(17) })
    const big = JSON.parse((await sse.next()).data)
    assert.is(big.key, 'enc-big')
    assert.is(big.size, 17)
    assert.not.ok('value' in big)
  } finally {
    await sse.cancel()
  }
})

test('an expiry arrives as an expire event', async () => {
  const { sse } = await openWatch(`${s.url}/v1/watch?prefix=exp-`)
  try {
    await fetch(`${s.url}/v1/data/exp-1`, { method: 'PUT', headers: { 'X-TTL': '0.2' }, body: 'soon gone' })
    assert.is((await sse.next()).event, 'set')
    const expired = await sse.next({ timeout: 5000 })
    assert.is(expired.event, 'expire')
    const data = JSON.parse(expired.data)
    assert.is(data.key, 'exp-1')
    assert.ok(Number.isFinite(Date.parse(data.expires_at)))
  } finally {
    await sse.cancel()
  }
})

test('HEAD /v1/watch answers the stream headers and ends at once', async () => {
  const res = await fetch(`${s.url}/v1/watch`, { method: 'HEAD', signal: AbortSignal.timeout(3000) })
  assert.is(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
  assert.is(await openStreams(s.url), 0)
})

test('idle streams get keep-alive comments', async () => {
  const { sse } = await openWatch(`${s.url}/v1/watch`)
  try {
    await sse.comment('keep-alive', 3000)
  } finally {
    await sse.cancel()
  }
})

test('the client going away ends the watch on the server', async () => {
  const controller = new AbortController()
  const { sse } = await openWatch(`${s.url}/v1/watch`, controller.signal)
  assert.is(await openStreams(s.url), 1)
  controller.abort()
  await sse.cancel()
  // the server only notices on its next write (an event or a keep-alive)
  await waitFor(async () => await openStreams(s.url) === 0, { timeout: 5000, message: 'the watch to end' })
})

test('a client that stops reading is cut off: its connection is destroyed, not left holding what was unsent', async () => {
  const served = await serveNode({}, { watchValueMaxBytes: 1024 * 1024 })
  const serverSockets: Socket[] = []
  served.http.server.on('connection', (socket: Socket) => { serverSockets.push(socket) })
  const { port } = new URL(served.url)
  const client = connect(Number(port), '127.0.0.1')
  try {
    await once(client, 'connect')
    client.write('GET /v1/watch HTTP/1.1\r\nHost: localhost\r\n\r\n')
    client.pause() // and never read
    const watching = await waitFor(() => serverSockets.find(s => s.remotePort === client.localPort), { message: 'the server to take the connection' })
    await waitFor(async () => await openStreams(served.url) === 1, { message: 'the watch to open' })
    // 400 events of 60 KiB each (24 MB): more than the kernel's buffers and the 8 MiB allowed unsent.
    const value = 'x'.repeat(60 * 1024)
    for (let i = 0; i < 400 && !watching.destroyed; i++) await served.node.put(`slow/${i}`, value, { ttl: 60_000 })
    await waitFor(() => watching.destroyed, { message: 'the slow client\'s connection to be destroyed' })
    assert.is(watching.writableLength, 0, 'nothing stays buffered for it')
    await waitFor(async () => await openStreams(served.url) === 0, { message: 'the watch to count as closed' })
  } finally {
    client.destroy()
    await served.stop()
  }
})

test('closing the server ends open streams instead of waiting for them', async () => {
  const http = await startHttpServer(s.node, { rateLimit: false })
  const { sse } = await openWatch(`${http.url}/v1/watch`)
  const started = Date.now()
  await http.close()
  await sse.end(3000)
  assert.ok(Date.now() - started < 3000)
  assert.ok(sse.ended)
})

test.run()
