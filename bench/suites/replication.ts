/**
 * Figures 1 and 2: replication latency and replicated write throughput,
 * every node in this one process.
 *
 * Latency: one put at a time, rotating the writing node; the time from just
 * before `put()` to the last other node's `entry:set` event. Baseline: one
 * raw gossipsub publish of a 256-byte payload to its delivery on every other
 * node, same stack and settings. The two clusters live side by side and are
 * measured in alternating blocks, so a change in the machine's load hits both.
 *
 * Throughput: one node puts N distinct 256-byte values (yielding to the event
 * loop every 1,000 puts, as a busy app would) and the clock stops when every
 * node holds all N. Baseline: raw gossipsub, one message per value,
 * published 1,000 at a time, until every node received all.
 */
import { Arrivals } from '../lib/arrivals.ts'
import { readSeq, startRawCluster, startRepramCluster, stopAll } from '../lib/cluster.ts'
import { alternateLatency, latencyFigures, latencyPlan, throughputCounts, throughputFigure, VALUE_BYTES } from '../lib/replication.ts'
import { makeValue, until, yieldToLoop } from '../lib/stats.ts'
import { progress, suiteMain } from '../lib/suite.ts'
import type { RawNode } from '../lib/cluster.ts'
import type { Figure } from '../lib/figures.ts'
import type { SuiteOptions } from '../lib/suite.ts'
import type { RepramNode } from '../../src/index.ts'

const SUITE = 'replication'
const SAMPLE_TIMEOUT_MS = 5000
const CHUNK = 1000

/** Sequence numbers are unique across the run: a raw message id is the hash of its bytes. */
let nextSeq = 0

/**
 * `count` latency samples: for each, a value of the next sequence number is
 * sent from one node (rotating) by `send`, and the sample is the time until
 * `arrivals` has seen it on every other node.
 */
async function sampleLatency<N> (nodes: N[], arrivals: Arrivals, count: number, send: (origin: N, seq: number, value: Uint8Array) => Promise<unknown>): Promise<number[]> {
  const out: number[] = []
  for (let k = 0; k < count; k++) {
    const seq = nextSeq++
    const delivered = arrivals.expect(seq, nodes.length - 1, SAMPLE_TIMEOUT_MS)
    const value = makeValue(VALUE_BYTES, seq)
    const t0 = performance.now()
    await send(nodes[seq % nodes.length], seq, value)
    out.push(await delivered - t0)
  }
  return out
}

async function repramLatency (nodes: RepramNode[], count: number): Promise<number[]> {
  const arrivals = new Arrivals()
  const offs = nodes.map(node => {
    const listener = (evt: CustomEvent<{ key: string, local: boolean }>): void => {
      const { key, local } = evt.detail
      if (!local && key.startsWith('lat/')) arrivals.arrive(Number(key.slice(4)), performance.now())
    }
    node.addEventListener('entry:set', listener)
    return () => { node.removeEventListener('entry:set', listener) }
  })
  try {
    return await sampleLatency(nodes, arrivals, count, async (origin, seq, value) => await origin.put(`lat/${seq}`, value, { ttl: 60_000 }))
  } finally {
    for (const off of offs) off()
  }
}

async function rawLatency (nodes: RawNode[], count: number): Promise<number[]> {
  const arrivals = new Arrivals()
  for (const node of nodes) node.onMessage = (data) => { arrivals.arrive(readSeq(data), performance.now()) }
  try {
    return await sampleLatency(nodes, arrivals, count, async (origin, _seq, value) => { await origin.publish(value) })
  } finally {
    for (const node of nodes) node.onMessage = () => {}
  }
}

/** Puts/s from the first put to the moment every node holds all `n` entries. */
async function repramThroughput (nodes: RepramNode[], n: number, timeoutMs: number): Promise<number> {
  const origin = nodes[0]
  const base = nodes.map(node => node.stats().entries)
  const value = makeValue(VALUE_BYTES)
  const run = nextSeq++
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    await origin.put(`tp/${run}/${i}`, value, { ttl: 600_000 })
    if ((i + 1) % CHUNK === 0) await yieldToLoop()
  }
  await until(() => nodes.every((node, j) => node.stats().entries >= base[j] + n), `all ${n} entries on every node`, timeoutMs)
  return n / ((performance.now() - t0) / 1000)
}

/** Messages/s from the first publish to the moment every other node received all `n`. */
async function rawThroughput (nodes: RawNode[], n: number, timeoutMs: number): Promise<number> {
  const [origin, ...receivers] = nodes
  const counts = receivers.map(() => 0)
  receivers.forEach((node, j) => { node.onMessage = () => { counts[j]++ } })
  try {
    const t0 = performance.now()
    for (let i = 0; i < n; i += CHUNK) {
      const sends: Array<Promise<void>> = []
      for (let k = i; k < Math.min(n, i + CHUNK); k++) sends.push(origin.publish(makeValue(VALUE_BYTES, nextSeq++)))
      await Promise.all(sends)
      await yieldToLoop()
    }
    await until(() => counts.every(c => c >= n), `all ${n} messages on every node`, timeoutMs)
    return n / ((performance.now() - t0) / 1000)
  } finally {
    for (const node of receivers) node.onMessage = () => {}
  }
}

async function run ({ quick }: SuiteOptions): Promise<Figure[]> {
  const plan = latencyPlan(quick)
  const counts = throughputCounts(quick)
  const figures: Figure[] = []
  for (const n of [3, 10]) {
    progress(SUITE, `${n} nodes: starting the clusters`)
    let raw: RawNode[] = []
    let repram: RepramNode[] = []
    try {
      raw = await startRawCluster(n)
      repram = await startRepramCluster(n)
      progress(SUITE, `${n} nodes: latency, ${plan.samples} samples each`)
      const lat = await alternateLatency(plan, async c => await rawLatency(raw, c), async c => await repramLatency(repram, c))
      figures.push(...latencyFigures(SUITE, '', n, lat))
      if (n === 3) {
        progress(SUITE, `${n} nodes: throughput, ${counts.repram} puts / ${counts.raw} raw messages`)
        const rawRate = await rawThroughput(raw, counts.raw, 120_000)
        const rate = await repramThroughput(repram, counts.repram, 120_000)
        figures.push(throughputFigure(SUITE, '', n, rate, rawRate, counts))
      }
    } finally {
      await stopAll([...raw, ...repram])
    }
  }
  return figures
}

suiteMain(run)
