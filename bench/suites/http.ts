/**
 * Figure 8: requests per second through the HTTP adapter, against a bare
 * `node:http` handler that answers with the same bytes, both served from one
 * child process (bench/workers/http-server.ts) while autocannon loads them
 * from this one (10 connections, loopback). GET reads a 256-byte value; PUT
 * writes one (the node is alone, so it answers once stored locally).
 *
 * GET reads one key over and over, as the target was set for: after its
 * first read, the adapter answers it from its kept answer (src/http/answers.ts)
 * after a re-check of the entry. "GET, many keys" reads 10,000 keys, each
 * connection in an order of its own (one autocannon instance of one
 * connection each, with its requests built once: choosing a path per request
 * made the load generator the bottleneck), so nearly every request is a fresh
 * read (the adapter keeps 128 answers): the cost of a GET without that help.
 * The bare server answers it with the same bytes, whatever the key.
 * Each server gets a warm-up (JIT) before it is measured. The two are then
 * loaded in alternating slices (bare, REPRAM, bare, ...), so that a burst
 * of other work on the machine falls on both alike rather than on whichever
 * happened to run at the time; each rate is the total over its slices.
 */
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { Worker } from '../lib/child.ts'
import { figure } from '../lib/figures.ts'
import { median, shuffledIndices } from '../lib/stats.ts'
import { progress, suiteMain } from '../lib/suite.ts'
import type { Figure } from '../lib/figures.ts'
import type { SuiteOptions } from '../lib/suite.ts'

const SUITE = 'http'
const WORKER = fileURLToPath(new URL('../workers/http-server.ts', import.meta.url))
const CONNECTIONS = 10

interface ServerInfo {
  repram: string
  bare: string
  get: { path: string }
  many: { prefix: string, count: number }
  put: { path: string, headers: Record<string, string>, body: string }
}

interface Load {
  method: 'GET' | 'PUT'
  path: string
  /** When given, the paths to read: each connection reads all of them, in an order of its own, over and over. */
  paths?: readonly string[]
  headers?: Record<string, string>
  body?: Buffer
}

type LoadName = 'GET' | 'GET, many keys' | 'PUT'

interface Measured {
  /** Requests per second. */
  rate: number
  /** The server process's CPU time per request, µs. */
  cpuPerRequest: number
  requests: number
  seconds: number
}

/** Slices of one server added up: rate over the total time, CPU per request over all requests. */
function total (slices: Measured[]): Measured {
  const requests = slices.reduce((a, m) => a + m.requests, 0)
  const seconds = slices.reduce((a, m) => a + m.seconds, 0)
  const cpu = slices.reduce((a, m) => a + m.cpuPerRequest * m.requests, 0)
  return { rate: requests / seconds, cpuPerRequest: cpu / requests, requests, seconds }
}

/**
 * Loads `base` for `seconds` (or for `amount` requests): requests/s, and the
 * server's CPU time per request. Throws if any request failed.
 */
async function load (server: Worker, base: string, req: Load, run: { seconds: number } | { amount: number }): Promise<Measured> {
  const cpu0 = await server.request<number>('cpu')
  const { paths } = req
  /** Options of one autocannon instance carrying `share` of the connections. */
  const instance = (share: number): autocannon.Options => ({
    url: base + req.path,
    method: req.method,
    headers: req.headers,
    body: req.body,
    ...('amount' in run ? { amount: Math.ceil(run.amount * share / CONNECTIONS) } : { duration: run.seconds })
  })
  const results = paths === undefined
    ? [await autocannon({ ...instance(CONNECTIONS), connections: CONNECTIONS })]
    : await Promise.all(Array.from({ length: CONNECTIONS }, async (_, c) => await autocannon({
      ...instance(1),
      connections: 1,
      requests: Array.from(shuffledIndices(paths.length, c + 1), i => ({ method: req.method, path: paths[i] }))
    })))
  const requests = results.reduce((a, r) => a + r.requests.total, 0)
  const failed = results.reduce((a, r) => a + r.errors + r.non2xx, 0)
  if (failed > 0) throw new Error(`${req.method} ${base}${req.path}: ${failed} errors or non-2xx answers of ${requests}`)
  const cpu = await server.request<number>('cpu') - cpu0
  const seconds = Math.max(...results.map(r => r.duration))
  return { rate: requests / seconds, cpuPerRequest: cpu / requests, requests, seconds }
}

async function run ({ quick }: SuiteOptions): Promise<Figure[]> {
  const seconds = quick ? 1 : 2
  // 10 slices: on a shared 2-core VM single slices came out between 0.58x and 1.51x in one run of 5
  const rounds = quick ? 1 : 10
  const warmup = quick ? 1000 : 10_000
  const server = new Worker(WORKER, [], { label: 'http servers' })
  try {
    const info = await server.request<ServerInfo>('info', {}, 60_000)
    const { prefix, count } = info.many
    const loads: Record<LoadName, Load> = {
      GET: { method: 'GET', path: info.get.path },
      'GET, many keys': { method: 'GET', path: `${prefix}0`, paths: Array.from({ length: count }, (_, i) => `${prefix}${i}`) },
      PUT: { method: 'PUT', path: info.put.path, headers: info.put.headers, body: Buffer.from(info.put.body, 'base64') }
    }
    const figures: Figure[] = []
    for (const name of ['GET', 'GET, many keys', 'PUT'] as const) {
      progress(SUITE, `${name}: warm-up, then ${rounds} x ${seconds} s each, bare and REPRAM alternating`)
      await load(server, info.bare, loads[name], { amount: warmup })
      await load(server, info.repram, loads[name], { amount: warmup })
      const slices: Array<{ bare: Measured, repram: Measured }> = []
      for (let r = 0; r < rounds; r++) {
        const bare = await load(server, info.bare, loads[name], { seconds })
        const repram = await load(server, info.repram, loads[name], { seconds })
        slices.push({ bare, repram })
      }
      const bare = total(slices.map(x => x.bare))
      const repram = total(slices.map(x => x.repram))
      const ratios = slices.map(x => x.repram.rate / x.bare.rate)
      const sliceRatios = ratios.map(r => r.toFixed(2)).join(', ')
      const many = name === 'GET, many keys'
      figures.push(figure({
        id: many ? 'http.get-many' : `http.${name.toLowerCase()}`,
        suite: SUITE,
        label: many ? `HTTP GET /v1/data/{key}, ${count.toLocaleString('en-US')} keys in turn` : `HTTP ${name} /v1/data/{key}`,
        unit: 'req/s',
        better: 'higher',
        value: repram.rate,
        baseline: { label: 'bare node:http, same bytes', value: bare.rate },
        ratioTarget: name === 'GET' ? 0.8 : undefined,
        ratioTargetText: 'bare node:http',
        notes: `${many ? `each connection reading all ${count} keys in an order of its own (nearly every request a fresh read); ` : ''}autocannon, ${CONNECTIONS} connections, ${rounds} x ${seconds} s per server in alternating slices, loopback, client and server sharing the machine's cores; 256-byte values; ` +
          `server CPU per request ${repram.cpuPerRequest.toFixed(0)} µs (bare ${bare.cpuPerRequest.toFixed(0)} µs); ratio per slice ${sliceRatios} (median ${median(ratios).toFixed(2)})`
      }))
    }
    return figures
  } finally {
    await server.stop()
  }
}

suiteMain(run)
