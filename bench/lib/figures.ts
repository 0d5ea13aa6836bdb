/**
 * The result format of the benchmarks. Every figure is reported next to a
 * baseline measured in the same run on the same machine, with the ratio
 * `value / baseline` (so a ratio reads the same way as the value: for a
 * latency lower is better, for a rate higher is better), and the targets it
 * was held to, each marked met or missed. A missed target is reported, never
 * hidden.
 */

/** One check a figure is held to, e.g. `<= 2 ms` or `>= 3x raw gossipsub`. */
export interface TargetCheck {
  text: string
  met: boolean
}

export interface Figure {
  /** Stable identifier, e.g. `replication.latency.p50.3nodes`. */
  id: string
  suite: string
  /** What was measured, for people. */
  label: string
  unit: string
  /** Which direction is better. */
  better: 'lower' | 'higher'
  value: number
  baseline: {
    label: string
    value: number
  }
  /** `value / baseline.value`. */
  ratio: number
  targets: TargetCheck[]
  /** Measurement details: sample counts, durations, noise. */
  notes?: string
}

export interface MachineInfo {
  cores: number
  cpuModel: string
  memoryBytes: number
  node: string
  platform: string
  /** 1-minute load average at the start and at the end of the run. */
  loadAverage: { start: number, end: number }
}

/** What `bench/run.ts` writes to `bench/results/latest.json`. */
export interface BenchReport {
  date: string
  mode: 'quick' | 'full'
  command: string
  durationMs: number
  machine: MachineInfo
  figures: Figure[]
  /** Suites that failed, with the error. */
  failures: Array<{ suite: string, error: string }>
}

/** A figure as a suite reports it: the ratio and the target checks are derived. */
export interface FigureInit extends Omit<Figure, 'ratio' | 'targets'> {
  /** Absolute bound on the value (`<=` when lower is better, `>=` when higher is). */
  target?: number
  /** Bound on the ratio, same direction as the value. */
  ratioTarget?: number
  /** How the ratio target is said, e.g. `of raw gossipsub`. */
  ratioTargetText?: string
}

const fmt = (n: number): string => formatNumber(n)

/** Builds a figure, computing the ratio and checking the targets. */
export function figure (init: FigureInit): Figure {
  const { value, better } = init
  const ratio = init.baseline.value === 0 ? (value === 0 ? 1 : Infinity) : value / init.baseline.value
  const within = (x: number, bound: number): boolean => Number.isFinite(x) && (better === 'lower' ? x <= bound : x >= bound)
  const op = better === 'lower' ? '<=' : '>='
  const targets: TargetCheck[] = []
  if (init.target !== undefined) targets.push({ text: `${op} ${fmt(init.target)} ${init.unit}`, met: within(value, init.target) })
  if (init.ratioTarget !== undefined) {
    targets.push({ text: `${op} ${init.ratioTarget}x ${init.ratioTargetText ?? 'baseline'}`, met: within(ratio, init.ratioTarget) })
  }
  return {
    id: init.id,
    suite: init.suite,
    label: init.label,
    unit: init.unit,
    better,
    value,
    baseline: { ...init.baseline },
    ratio,
    targets,
    notes: init.notes
  }
}

/** Three significant digits, thousands separated: 1,234,567 / 12.3 / 0.0123. */
export function formatNumber (n: number): string {
  if (!Number.isFinite(n)) return String(n)
  const abs = Math.abs(n)
  if (abs >= 1000) return Math.round(n).toLocaleString('en-US')
  if (abs >= 100) return n.toFixed(0)
  if (abs >= 10) return n.toFixed(1)
  if (abs >= 1) return n.toFixed(2)
  if (abs === 0) return '0'
  return n.toPrecision(3)
}

export function formatRatio (r: number): string {
  if (!Number.isFinite(r)) return String(r)
  return `${r >= 10 ? r.toFixed(1) : r >= 0.01 || r === 0 ? r.toFixed(2) : r.toPrecision(2)}x`
}

/** A markdown table of the figures (it reads as plain text too). */
export function formatTable (figures: Figure[]): string {
  const rows = [['Figure', 'Value', 'Baseline', 'Ratio', 'Target']]
  for (const f of figures) {
    const target = f.targets.length === 0
      ? '-'
      : f.targets.map(t => `${t.met ? 'met' : 'MISSED'} (${t.text})`).join(', ')
    rows.push([
      f.label,
      `${formatNumber(f.value)} ${f.unit}`,
      `${formatNumber(f.baseline.value)} ${f.unit} (${f.baseline.label})`,
      formatRatio(f.ratio),
      target
    ])
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map(r => r[c].length)))
  const line = (r: string[]): string => `| ${r.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`
  return [line(rows[0]), `| ${widths.map(w => '-'.repeat(w)).join(' | ')} |`, ...rows.slice(1).map(line)].join('\n')
}

/** One line per figure that has notes: how it was measured. */
export function formatNotes (figures: Figure[]): string {
  return figures.filter(f => f.notes !== undefined).map(f => `- ${f.label}: ${f.notes}`).join('\n')
}
