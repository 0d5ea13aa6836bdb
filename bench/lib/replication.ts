/** Shared by the two replication suites (one process, separate processes): plans and figures. */
import { figure, formatNumber } from './figures.ts'
import { percentile } from './stats.ts'
import type { Figure } from './figures.ts'

/** Size of every replicated value and raw payload, bytes. */
export const VALUE_BYTES = 256

/**
 * As many warm-up samples of each kind as measured ones. V8 optimizes a
 * function only once it has run many times (decoding a REPRAM message took
 * about 10 µs per call over its first 1,100 calls, 0.45 µs once optimized),
 * and in the separate-process suite each node process handles two samples
 * in three: a warm-up of 200 left REPRAM's own code unoptimized for most of
 * the measurement, while raw gossipsub has next to no code of its own on
 * the path. What the warm-up saw is reported in the figures' notes.
 */
export function latencyPlan (quick: boolean): LatencyPlan {
  return quick ? { samples: 50, warmup: 10, blocks: 2 } : { samples: 2000, warmup: 2000, blocks: 20 }
}

export function throughputCounts (quick: boolean): { repram: number, raw: number } {
  return quick ? { repram: 10_000, raw: 2_000 } : { repram: 100_000, raw: 20_000 }
}

export interface LatencyPlan { samples: number, warmup: number, blocks: number }

export interface LatencySamples {
  raw: number[]
  repram: number[]
  /** The warm-up's samples (each kind's in one run, before the alternating blocks). */
  warmup: { raw: number[], repram: number[] }
}

/**
 * Latency samples of both kinds, measured in alternating blocks after a
 * warm-up of each (JIT, connection buffers), so drifting load hits both alike.
 * Blocks are short (100 samples) and a p99 of 2,000 rests on 20 samples: a
 * burst of other work on the machine cannot fall on one kind only.
 */
export async function alternateLatency (
  plan: LatencyPlan,
  raw: (count: number) => Promise<number[]>,
  repram: (count: number) => Promise<number[]>
): Promise<LatencySamples> {
  const warmup = { raw: await raw(plan.warmup), repram: await repram(plan.warmup) }
  const out: LatencySamples = { raw: [], repram: [], warmup }
  const perBlock = Math.ceil(plan.samples / plan.blocks)
  for (let b = 0; b < plan.blocks; b++) {
    out.raw.push(...await raw(perBlock))
    out.repram.push(...await repram(perBlock))
  }
  return out
}

/** The latency figures of one cluster size (shared with the multi-process suite). */
export function latencyFigures (suite: string, where: string, n: number, lat: LatencySamples): Figure[] {
  const figures: Figure[] = []
  for (const p of [50, 99] as const) {
    const absolute = n === 3 ? (p === 50 ? 2 : 10) : undefined
    figures.push(figure({
      id: `${suite}.latency.p${p}.${n}nodes`,
      suite,
      label: `Replication latency p${p}, ${n} nodes${where}`,
      unit: 'ms',
      better: 'lower',
      value: percentile(lat.repram, p),
      baseline: { label: 'raw gossipsub', value: percentile(lat.raw, p) },
      target: absolute,
      ratioTarget: 1.2,
      ratioTargetText: 'raw gossipsub',
      notes: `${lat.repram.length} puts and ${lat.raw.length} raw publishes of ${VALUE_BYTES} B, one at a time, writer rotating over the nodes, ` +
        `after a warm-up of ${lat.warmup.repram.length} of each (JIT), whose p${p} was ${formatNumber(percentile(lat.warmup.repram, p))} ms against ${formatNumber(percentile(lat.warmup.raw, p))} ms`
    }))
  }
  return figures
}

export function throughputFigure (suite: string, where: string, n: number, rate: number, rawRate: number, counts: { repram: number, raw: number }): Figure {
  return figure({
    id: `${suite}.throughput.${n}nodes`,
    suite,
    label: `Replicated write throughput, ${n} nodes${where}`,
    unit: 'puts/s',
    better: 'higher',
    value: rate,
    baseline: { label: 'raw gossipsub msg/s', value: rawRate },
    target: 20_000,
    ratioTarget: 3,
    ratioTargetText: 'raw gossipsub',
    notes: `${counts.repram} puts of ${VALUE_BYTES} B from one node until every node held all; baseline ${counts.raw} messages of ${VALUE_BYTES} B`
  })
}
