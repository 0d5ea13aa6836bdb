/** Shared by the two replication suites (one process, separate processes): plans and figures. */
import { figure } from './figures.ts'
import { percentile } from './stats.ts'
import type { Figure } from './figures.ts'

/** Size of every replicated value and raw payload, bytes. */
export const VALUE_BYTES = 256

export function latencyPlan (quick: boolean): LatencyPlan {
  return quick ? { samples: 50, warmup: 10, blocks: 2 } : { samples: 2000, warmup: 200, blocks: 20 }
}

export function throughputCounts (quick: boolean): { repram: number, raw: number } {
  return quick ? { repram: 10_000, raw: 2_000 } : { repram: 100_000, raw: 20_000 }
}

export interface LatencyPlan { samples: number, warmup: number, blocks: number }

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
): Promise<{ raw: number[], repram: number[] }> {
  await raw(plan.warmup)
  await repram(plan.warmup)
  const out = { raw: [] as number[], repram: [] as number[] }
  const perBlock = Math.ceil(plan.samples / plan.blocks)
  for (let b = 0; b < plan.blocks; b++) {
    out.raw.push(...await raw(perBlock))
    out.repram.push(...await repram(perBlock))
  }
  return out
}

/** The latency figures of one cluster size (shared with the multi-process suite). */
export function latencyFigures (suite: string, where: string, n: number, lat: { raw: number[], repram: number[] }): Figure[] {
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
      notes: `${lat.repram.length} puts and ${lat.raw.length} raw publishes of ${VALUE_BYTES} B, one at a time, writer rotating over the nodes`
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

