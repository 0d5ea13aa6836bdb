/**
 * Figure 6: expiry of 1,000,000 entries spread over 10 s, with the store's
 * real timer, against `@isaacs/ttlcache` doing the same, each in a fresh
 * process (bench/workers/expiry.ts). Reports the CPU time spent, how late
 * entries were removed (p99 and worst, from `expiresAt` to the `onExpire`
 * callback), and the worst event-loop stall (`monitorEventLoopDelay`).
 */
import { fileURLToPath } from 'node:url'
import { runChild } from '../lib/child.ts'
import { figure } from '../lib/figures.ts'
import { progress, suiteMain } from '../lib/suite.ts'
import type { ExpiryResult } from '../workers/expiry.ts'
import type { Figure } from '../lib/figures.ts'
import type { SuiteOptions } from '../lib/suite.ts'

const SUITE = 'expiry'
const WORKER = fileURLToPath(new URL('../workers/expiry.ts', import.meta.url))

async function measure (kind: 'store' | 'ttlcache', n: number, windowMs: number, quietMs: number): Promise<ExpiryResult> {
  return await runChild<ExpiryResult>(WORKER, [kind, String(n), String(windowMs), String(quietMs)], {
    execArgv: ['--expose-gc'],
    timeoutMs: windowMs + 180_000,
    label: `expiry ${kind}`
  })
}

async function run ({ quick }: SuiteOptions): Promise<Figure[]> {
  const n = quick ? 10_000 : 1_000_000
  const windowMs = quick ? 1000 : 10_000
  progress(SUITE, `${n} entries over ${windowMs} ms: MemoryStore, then @isaacs/ttlcache`)
  const quietMs = quick ? 250 : 1000
  const store = await measure('store', n, windowMs, quietMs)
  const ttl = await measure('ttlcache', n, windowMs, quietMs)
  const baseline = (value: number): { label: string, value: number } => ({ label: '@isaacs/ttlcache', value })
  const what = `${n.toLocaleString('en-US')} entries over ${windowMs / 1000} s`
  const noise = `idle-loop worst delay over ${quietMs} ms before the run: ${store.idleStallMaxMs.toFixed(1)} ms (store process), ${ttl.idleStallMaxMs.toFixed(1)} ms (ttlcache process)`
  return [
    figure({
      id: 'expiry.cpu',
      suite: SUITE,
      label: `Expiry CPU time, ${what}`,
      unit: 'ms',
      better: 'lower',
      value: store.cpuMs,
      baseline: baseline(ttl.cpuMs),
      notes: 'process.cpuUsage (user + system) from the first expiry to the last removal'
    }),
    figure({
      id: 'expiry.lag.p99',
      suite: SUITE,
      label: `Expiry lag p99, ${what}`,
      unit: 'ms',
      better: 'lower',
      value: store.lagP99Ms,
      baseline: baseline(ttl.lagP99Ms),
      target: 50,
      notes: `removal time minus expiresAt; p50 ${store.lagP50Ms.toFixed(2)} ms (ttlcache ${ttl.lagP50Ms.toFixed(2)} ms)`
    }),
    figure({
      id: 'expiry.lag.max',
      suite: SUITE,
      label: `Expiry lag worst, ${what}`,
      unit: 'ms',
      better: 'lower',
      value: store.lagMaxMs,
      baseline: baseline(ttl.lagMaxMs)
    }),
    figure({
      id: 'expiry.stall.max',
      suite: SUITE,
      label: `Event-loop stall worst during expiry, ${what}`,
      unit: 'ms',
      better: 'lower',
      value: store.stallMaxMs,
      baseline: baseline(ttl.stallMaxMs),
      target: 20,
      notes: `monitorEventLoopDelay max, 1 ms resolution; ${noise}`
    })
  ]
}

suiteMain(run)
