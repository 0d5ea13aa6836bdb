/**
 * Expiry under load, in a fresh process (run by bench/suites/expiry.ts):
 *
 *   node --expose-gc bench/workers/expiry.ts store|ttlcache N WINDOW_MS QUIET_MS
 *
 * Fills a `MemoryStore` (real clock injected, real timer) or an
 * `@isaacs/ttlcache` with N entries whose expiry times are spread evenly
 * over WINDOW_MS starting a moment after the fill, then lets them all
 * expire. Reports the CPU time the process used from the start of the
 * window until the last removal, the delay of each removal past its
 * `expiresAt` (p50, p99, max), and the event loop's worst delay
 * (`monitorEventLoopDelay`), also over QUIET_MS of idling before the fill
 * (the machine's own noise).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { TTLCache } from '@isaacs/ttlcache'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { childMain } from '../lib/child.ts'
import { hrNow, makeKeys, percentile, sleep, until } from '../lib/stats.ts'

const ORIGIN = '12D3KooWBenchOriginPeerIdxxxxxxxxxxxxxxxxxxxxxxxxxxx'
/** Event-loop delay sampling period, ms. */
const RESOLUTION_MS = 1

export interface ExpiryResult {
  entries: number
  cpuMs: number
  lagP50Ms: number
  lagP99Ms: number
  lagMaxMs: number
  /** Worst event-loop delay during the window, ms. */
  stallMaxMs: number
  /** Worst event-loop delay while idling before the fill, ms. */
  idleStallMaxMs: number
  /** How long the fill took, ms (not part of the window). */
  fillMs: number
}

/** Fills a structure of `kind` with `keys[i]` expiring at `expiresAt(i)` and arms its expiry. */
function fill (kind: 'store' | 'ttlcache', keys: string[], expiresAt: (i: number) => number, onRemoved: (expiresAt: number) => void): { drop: () => void } {
  const value = new Uint8Array(64)
  if (kind === 'store') {
    const now = hrNow()
    const store = new MemoryStore({
      clock: hrNow,
      maxEntries: keys.length,
      maxBytes: Number.MAX_SAFE_INTEGER,
      onExpire: (_key, at) => { onRemoved(at) }
    })
    for (let i = 0; i < keys.length; i++) {
      store.apply({ key: keys[i], value, expiresAt: expiresAt(i), wall: now, counter: i, origin: ORIGIN, guardUntil: 0 })
    }
    store.start()
    return { drop: () => { store.stop() } }
  }
  const index = new Map<string, number>()
  const cache = new TTLCache<string, Uint8Array>({
    checkAgeOnGet: true,
    dispose: (_value, key, reason) => { if (reason === 'stale') onRemoved(expiresAt(index.get(key)!)) }
  })
  for (let i = 0; i < keys.length; i++) {
    index.set(keys[i], i)
    cache.set(keys[i], value, { ttl: Math.max(1, Math.round(expiresAt(i) - hrNow())) })
  }
  return { drop: () => { cache.cancelTimer() } }
}

async function loopNoise (ms: number): Promise<number> {
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
  h.enable()
  await sleep(ms)
  h.disable()
  return h.max / 1e6
}

childMain(async ([kind, count, window, quiet]): Promise<ExpiryResult> => {
  const n = Number(count)
  const windowMs = Number(window)
  if (kind !== 'store' && kind !== 'ttlcache') throw new Error('usage: expiry.ts store|ttlcache N WINDOW_MS QUIET_MS')
  const idleStallMaxMs = await loopNoise(Number(quiet))

  const keys = makeKeys(n, 16)
  const lags = new Float64Array(n)
  let removed = 0
  const onRemoved = (expiredAt: number): void => { lags[removed++] = hrNow() - expiredAt }

  // The fill must end before the first expiry. Time a small fill first and
  // give the real one a generous head start from that.
  const sample = Math.min(n, 20_000)
  const t = hrNow()
  fill(kind, keys.slice(0, sample), i => t + 3_600_000 + i, () => {}).drop()
  const headStart = windowMs / 5 + 3 * (hrNow() - t) * (n / sample)

  const fillStart = hrNow()
  const base = fillStart + headStart
  const { drop } = fill(kind, keys, i => base + (i * windowMs) / n, onRemoved)
  const fillMs = hrNow() - fillStart
  if (hrNow() >= base) throw new Error(`the fill took ${fillMs.toFixed(0)} ms and ran into the expiry window (head start ${headStart.toFixed(0)} ms)`)
  ;(globalThis as { gc?: () => void }).gc?.()

  await sleep(Math.max(0, base - hrNow() - 50))
  const eld = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
  eld.enable()
  const cpu0 = process.cpuUsage()
  await until(() => removed >= n, `all ${n} entries to expire`, windowMs + 60_000, 5)
  const cpu = process.cpuUsage(cpu0)
  eld.disable()
  drop()
  return {
    entries: n,
    cpuMs: (cpu.user + cpu.system) / 1000,
    lagP50Ms: percentile(lags, 50),
    lagP99Ms: percentile(lags, 99),
    lagMaxMs: percentile(lags, 100),
    stallMaxMs: eld.max / 1e6,
    idleStallMaxMs,
    fillMs
  }
})
