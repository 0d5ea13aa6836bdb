/** The three levels of the adapter (handler, unstarted server, started server) and option checking. */
import { createServer, type Server } from 'node:http'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHttpHandler, createHttpServer, startHttpServer } from '../../src/http/index.ts'
import { startNode, SseReader } from './helpers.ts'
import type { RepramNode } from '../../src/index.ts'

let node: RepramNode

test.before(async () => { node = await startNode() })
test.after(async () => { await node?.stop() })

async function listenOn (server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  return `http://127.0.0.1:${address.port}`
}

async function closeServer (server: Server): Promise<void> {
  await new Promise<void>(resolve => { server.close(() => { resolve() }) })
}

test('createHttpHandler in an existing server, as middleware: unknown paths go to next()', async () => {
  const api = createHttpHandler(node, { rateLimit: false })
  const server = createServer((req, res) => {
    api(req, res, () => {
      res.writeHead(200, { 'Content-Type': 'text/plain' })
      res.end('app route')
    })
  })
  const base = await listenOn(server)
  try {
    assert.is((await fetch(base + '/v1/data/mw', { method: 'PUT', body: 'x' })).status, 202)
    assert.is(await (await fetch(base + '/v1/data/mw')).text(), 'x')
    assert.is(await (await fetch(base + '/index.html')).text(), 'app route')
  } finally {
    await closeServer(server)
  }
})

test('createHttpHandler without next answers unknown paths 404', async () => {
  const api = createHttpHandler(node, { rateLimit: false })
  const server = createServer((req, res) => { api(req, res) })
  const base = await listenOn(server)
  try {
    assert.is((await fetch(base + '/index.html')).status, 404)
  } finally {
    await closeServer(server)
  }
})

test('the handler signal ends open watch streams, and later watches get 503', async () => {
  const shutdown = new AbortController()
  const api = createHttpHandler(node, { rateLimit: false, signal: shutdown.signal })
  const server = createServer((req, res) => { api(req, res) })
  const base = await listenOn(server)
  try {
    const res = await fetch(base + '/v1/watch')
    const sse = new SseReader(res)
    await sse.comment('watching')
    shutdown.abort()
    await sse.end(3000)
    const after = await fetch(base + '/v1/watch')
    assert.is(after.status, 503)
    assert.is(((await after.json()) as { error: string }).error, 'AbortError')
    assert.is((await fetch(base + '/v1/health')).status, 200, 'other routes still answer')
  } finally {
    server.closeAllConnections()
    await closeServer(server)
  }
})

test('createHttpServer returns a server that is not listening; its close() ends watch streams', async () => {
  const server = createHttpServer(node, { rateLimit: false })
  assert.is(server.listening, false)
  const base = await listenOn(server)
  const res = await fetch(base + '/v1/watch')
  const sse = new SseReader(res)
  await sse.comment('watching')
  const started = Date.now()
  await closeServer(server)
  await sse.end(3000)
  assert.ok(Date.now() - started < 3000)
})

test('startHttpServer listens on 127.0.0.1 and a free port by default', async () => {
  const http = await startHttpServer(node)
  try {
    assert.match(http.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    const address = http.server.address()
    assert.ok(address !== null && typeof address === 'object' && address.address === '127.0.0.1' && address.port > 0)
    assert.is((await fetch(http.url + '/v1/health')).status, 200)
  } finally {
    await http.close()
  }
  assert.is(http.server.listening, false)
  await http.close() // idempotent
})

test('startHttpServer: aborting the signal closes the server', async () => {
  const controller = new AbortController()
  const http = await startHttpServer(node, { signal: controller.signal })
  assert.is((await fetch(http.url + '/v1/health')).status, 200)
  controller.abort()
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('the server did not close')) }, 3000)
    if (!http.server.listening) { clearTimeout(timer); resolve(); return }
    http.server.once('close', () => { clearTimeout(timer); resolve() })
  })
  let refused = false
  try { await fetch(http.url + '/v1/health') } catch { refused = true }
  assert.ok(refused, 'no longer accepting connections')
})

test('startHttpServer rejects an aborted signal and a taken port', async () => {
  try {
    await startHttpServer(node, { signal: AbortSignal.abort() })
    assert.unreachable('should reject')
  } catch (err) {
    assert.is((err as Error).name, 'AbortError')
  }
  const first = await startHttpServer(node)
  try {
    const port = Number(new URL(first.url).port)
    try {
      await startHttpServer(node, { port })
      assert.unreachable('should reject')
    } catch (err) {
      assert.is((err as NodeJS.ErrnoException).code, 'EADDRINUSE')
    }
  } finally {
    await first.close()
  }
})

test('startHttpServer refuses a port or host it could not listen on with InvalidConfigError naming it', async () => {
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ port: -1 }, 'port'],
    [{ port: 70_000 }, 'port'],
    [{ port: 80.5 }, 'port'],
    [{ port: '8080' }, 'port'],
    [{ host: '' }, 'host'],
    [{ host: 127 }, 'host']
  ]
  for (const [opts, field] of bad) {
    const err = await startHttpServer(node, opts as any).then(async server => { await server.close() }, (e: Error) => e)
    assert.instance(err, Error, `${JSON.stringify(opts)} should be refused`)
    assert.is((err as Error).name, 'InvalidConfigError', JSON.stringify(opts))
    assert.is((err as { field?: string }).field, field)
  }
})

test('options are checked at once with InvalidConfigError naming the field', () => {
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ writeQuorum: -1 }, 'writeQuorum'],
    [{ writeQuorum: 1.5 }, 'writeQuorum'],
    [{ writeTimeout: 0 }, 'writeTimeout'],
    [{ writeTimeout: 700_000 }, 'writeTimeout'],
    [{ rateLimit: { requestsPerSecond: 0, burst: 1 } }, 'rateLimit.requestsPerSecond'],
    [{ rateLimit: { requestsPerSecond: 10, burst: 0 } }, 'rateLimit.burst'],
    [{ rateLimit: true }, 'rateLimit'],
    [{ rateLimit: { requestsPerSecond: 10, brust: 5 } }, 'rateLimit.brust'],
    [{ cors: '' }, 'cors'],
    [{ cors: [] }, 'cors'],
    [{ maxBodyBytes: -1 }, 'maxBodyBytes'],
    [{ watchKeepAlive: 1 }, 'watchKeepAlive'],
    [{ signal: 'no' }, 'signal'],
    [{ wirteQuorum: 1 }, 'wirteQuorum']
  ]
  for (const [opts, field] of bad) {
    try {
      createHttpHandler(node, opts as any)
      assert.unreachable(`${JSON.stringify(opts)} should be refused`)
    } catch (err) {
      assert.is((err as Error).name, 'InvalidConfigError', JSON.stringify(opts))
      assert.is((err as { field?: string }).field, field)
    }
  }
  assert.type(createHttpHandler(node, { writeQuorum: 0, rateLimit: false, cors: ['http://a.example'], maxBodyBytes: 10 }), 'function')
})

test('maxBodyBytes lowers the body limit below the node limit', async () => {
  const http = await startHttpServer(node, { maxBodyBytes: 10, rateLimit: false })
  try {
    assert.is((await fetch(http.url + '/v1/data/small', { method: 'PUT', body: '0123456789' })).status, 202)
    assert.is((await fetch(http.url + '/v1/data/small', { method: 'PUT', body: '0123456789a' })).status, 413)
  } finally {
    await http.close()
  }
})

test.run()
