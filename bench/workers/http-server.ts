/**
 * The servers of the HTTP benchmark, in their own process so the load
 * generator (bench/suites/http.ts) does not share their CPU time:
 *
 * - `repram`: a RepramNode (loopback, mDNS off, alone) served by
 *   `startHttpServer`, rate limiting off;
 * - `bare`: a bare `node:http` handler that answers every GET and PUT with
 *   the very bytes (status, headers, body) the REPRAM server answered a
 *   sample request with: the floor any handler pays to Node's HTTP stack.
 *
 * The node holds the key that GET reads, and `MANY_KEYS` more (`bench/many/<i>`,
 * values of the same size) for reads spread over many keys.
 *
 * Commands: info -> { repram, bare (base URLs), get, many, put (requests to load with) },
 * cpu -> CPU time used so far (µs), stop.
 */
import { createServer, type OutgoingHttpHeaders, type Server } from 'node:http'
import { startHttpServer } from '../../src/http/index.ts'
import { serveCommands } from '../lib/child.ts'
import { startRepramNode } from '../lib/cluster.ts'
import { makeValue } from '../lib/stats.ts'

const GET_KEY = 'bench/get'
const PUT_KEY = 'bench/put'
const VALUE_BYTES = 256
const MANY_KEYS = 10_000
const PUT_HEADERS = { 'Content-Type': 'application/octet-stream', 'X-TTL': '60' }

/** Headers Node writes itself; the replay must not send them twice. */
const NODE_OWN = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding'])

interface Recorded { status: number, headers: OutgoingHttpHeaders, body: Buffer }

async function record (res: Response): Promise<Recorded> {
  const headers: OutgoingHttpHeaders = {}
  res.headers.forEach((value, name) => { if (!NODE_OWN.has(name)) headers[name] = value })
  return { status: res.status, headers, body: Buffer.from(await res.arrayBuffer()) }
}

const node = await startRepramNode()
const repram = await startHttpServer(node, { rateLimit: false })
await node.put(GET_KEY, makeValue(VALUE_BYTES), { ttl: 3_600_000, contentType: 'application/octet-stream' })
for (let i = 0; i < MANY_KEYS; i++) await node.put(`bench/many/${i}`, makeValue(VALUE_BYTES, i), { ttl: 3_600_000, contentType: 'application/octet-stream' })
const get = await record(await fetch(`${repram.url}/v1/data/${encodeURIComponent(GET_KEY)}`))
const put = await record(await fetch(`${repram.url}/v1/data/${encodeURIComponent(PUT_KEY)}`, { method: 'PUT', headers: PUT_HEADERS, body: makeValue(VALUE_BYTES) }))
if (get.status !== 200 || get.body.length !== VALUE_BYTES) throw new Error(`GET answered ${get.status} with ${get.body.length} bytes`)
if (put.status >= 300) throw new Error(`PUT answered ${put.status}: ${put.body.toString()}`)

const bare: Server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(get.status, get.headers)
    res.end(get.body)
    return
  }
  req.on('data', () => {})
  req.on('end', () => {
    res.writeHead(put.status, put.headers)
    res.end(put.body)
  })
})
await new Promise<void>(resolve => bare.listen(0, '127.0.0.1', resolve))
const address = bare.address()
if (address === null || typeof address === 'string') throw new Error('the bare server is not on TCP')

serveCommands({
  info: () => ({
    repram: repram.url,
    bare: `http://127.0.0.1:${address.port}`,
    get: { path: `/v1/data/${encodeURIComponent(GET_KEY)}`, responseBytes: get.body.length },
    many: { prefix: `/v1/data/${encodeURIComponent('bench/many/')}`, count: MANY_KEYS },
    put: { path: `/v1/data/${encodeURIComponent(PUT_KEY)}`, headers: PUT_HEADERS, body: Buffer.from(makeValue(VALUE_BYTES)).toString('base64') }
  }),
  /** CPU time this process has used, µs (to compare the servers' cost per request). */
  cpu: () => { const { user, system } = process.cpuUsage(); return user + system },
  stop: async () => {
    bare.closeAllConnections()
    await Promise.allSettled([new Promise(resolve => bare.close(resolve)), repram.close().then(async () => { await node.stop() })])
  }
})
