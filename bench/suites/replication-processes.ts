/**
 * Figure 3: replication latency and throughput with every node in its own
 * process (bench/workers/bench-node.ts, which hosts a REPRAM node and a raw
 * gossipsub node side by side, so both kinds run in the same processes). Same method as the one-process suite, except that times
 * are taken in the node processes (`hrNow()`) and brought onto this
 * process's clock with an offset measured per node (the reading with the
 * shortest IPC round trip, NTP-style), so IPC delays are not in the figures.
 */
import { fileURLToPath } from 'node:url'
import { Arrivals } from '../lib/arrivals.ts'
import { Worker } from '../lib/child.ts'
import { alternateLatency, latencyFigures, latencyPlan, throughputCounts, throughputFigure } from '../lib/replication.ts'
import { hrNow } from '../lib/stats.ts'
import { progress, suiteMain } from '../lib/suite.ts'
import type { Figure } from '../lib/figures.ts'
import type { SuiteOptions } from '../lib/suite.ts'

const SUITE = 'replication-processes'
const NODE_SCRIPT = fileURLToPath(new URL('../workers/bench-node.ts', import.meta.url))
const SAMPLE_TIMEOUT_MS = 5000

type Kind = 'repram' | 'raw'

/**
 * `n` host processes, each running a REPRAM node and a raw node; each kind
 * connected as a full mesh. Processes are started two at a time (loading
 * the libp2p stack costs about a CPU-second each).
 */
class ProcessCluster {
  readonly hosts: Worker[] = []
  /** Per host: its clock minus ours, ms. */
  private offsets: number[] = []
  private readonly arrivals = { repram: new Arrivals(), raw: new Arrivals() }
  private seq = 0

  async start (n: number): Promise<void> {
    const infos: Array<Record<Kind, string[]>> = []
    const spawnOne = async (i: number): Promise<void> => {
      const host = new Worker(NODE_SCRIPT, [], { label: `node process ${i}` })
      this.hosts[i] = host
      host.on('seen', ({ kind, seq, at }: { kind: Kind, seq: number, at: number }) => { this.arrivals[kind].arrive(seq, at - this.offsets[i]) })
      infos[i] = await host.request('info', {}, 120_000)
    }
    for (let i = 0; i < n; i += 2) await Promise.all([spawnOne(i), ...(i + 1 < n ? [spawnOne(i + 1)] : [])])
    for (const kind of ['raw', 'repram'] as const) {
      // every host dials the ones after it, all at once
      await Promise.all(this.hosts.map(async (host, i) => {
        for (let j = i + 1; j < n; j++) await host.request('dial', { kind, addr: infos[j][kind][0] }, 15_000)
      }))
      await Promise.all(this.hosts.map(async w => await w.request('waitPeers', { kind, count: n - 1, timeoutMs: 30_000 }, 35_000)))
    }
    this.offsets = []
    for (const w of this.hosts) this.offsets.push(await clockOffset(w))
    for (const kind of ['raw', 'repram'] as const) await this.gossipReady(kind)
  }

  /** A latency sample from each node (retried) until each reaches all others: the mesh is up. */
  private async gossipReady (kind: Kind): Promise<void> {
    for (let i = 0; i < this.hosts.length; i++) {
      const deadline = performance.now() + 20_000
      for (;;) {
        try {
          await this.sample(kind, i, 500)
          break
        } catch (err) {
          if (performance.now() > deadline) {
            const diag = await this.hosts[i].request('diag', { kind }).catch(() => undefined)
            throw new Error(`${kind} gossip from node ${i} did not reach every node: ${(err as Error).message}; its gossipsub state: ${JSON.stringify(diag)}`)
          }
        }
      }
    }
  }

  /** One put (or publish) on node `origin`; ms until the last other node had it. */
  async sample (kind: Kind, origin: number, timeoutMs = SAMPLE_TIMEOUT_MS): Promise<number> {
    const seq = this.seq++
    const delivered = this.arrivals[kind].expect(seq, this.hosts.length - 1, timeoutMs)
    delivered.catch(() => {})
    const sentAt = await this.hosts[origin].request<number>('put', { kind, seq }) - this.offsets[origin]
    return await delivered - sentAt
  }

  async latency (kind: Kind, count: number): Promise<number[]> {
    const out: number[] = []
    for (let k = 0; k < count; k++) out.push(await this.sample(kind, this.seq % this.hosts.length))
    return out
  }

  /** `count` writes on node 0; per second, until every other node holds them all. */
  async throughput (kind: Kind, count: number, run: number): Promise<number> {
    const [origin, ...receivers] = this.hosts
    await Promise.all(receivers.map(async w => await w.request('resetCount', { kind })))
    const targets = await Promise.all(receivers.map(async w => count + await w.request<number>('count', { kind })))
    const done = Promise.all(receivers.map(async (w, j) =>
      await w.request<number>('expect', { kind, count: targets[j], timeoutMs: 120_000 }, 125_000) - this.offsets[j + 1]))
    done.catch(() => {})
    const { t0 } = await origin.request<{ t0: number }>('burst', { kind, count, run }, 125_000)
    const last = Math.max(...await done)
    return count / ((last - (t0 - this.offsets[0])) / 1000)
  }

  async stop (): Promise<void> {
    await Promise.allSettled(this.hosts.map(async w => { await w.stop() }))
  }
}

/** The worker's clock minus ours, from the reading with the shortest round trip. */
async function clockOffset (w: Worker, rounds = 20): Promise<number> {
  let best = { rtt: Infinity, offset: 0 }
  for (let i = 0; i < rounds; i++) {
    const t0 = hrNow()
    const theirs = await w.request<number>('clock')
    const t1 = hrNow()
    if (t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: theirs - (t0 + t1) / 2 }
  }
  return best.offset
}

async function run ({ quick }: SuiteOptions): Promise<Figure[]> {
  const plan = latencyPlan(quick)
  const counts = throughputCounts(quick)
  const figures: Figure[] = []
  for (const n of [3, 10]) {
    progress(SUITE, `${n} nodes: starting ${n} node processes`)
    const cluster = new ProcessCluster()
    try {
      await cluster.start(n)
      progress(SUITE, `${n} nodes: latency, ${plan.samples} samples each`)
      const lat = await alternateLatency(plan, async c => await cluster.latency('raw', c), async c => await cluster.latency('repram', c))
      figures.push(...latencyFigures(SUITE, ', separate processes', n, lat))
      if (n === 3) {
        progress(SUITE, `${n} nodes: throughput, ${counts.repram} puts / ${counts.raw} raw messages`)
        const rawRate = await cluster.throughput('raw', counts.raw, 0)
        const rate = await cluster.throughput('repram', counts.repram, 0)
        figures.push(throughputFigure(SUITE, ', separate processes', n, rate, rawRate, counts))
      }
    } finally {
      await cluster.stop()
    }
  }
  return figures
}

suiteMain(run)
