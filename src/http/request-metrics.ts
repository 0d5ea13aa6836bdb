/**
 * The two per-request metrics, `repram_http_requests_total` (by route,
 * method, status) and `repram_http_request_duration_seconds` (a histogram by
 * route and method), kept as plain numbers and turned into Prometheus
 * samples only when scraped.
 *
 * Why not prom-client's own `Counter` and `Histogram`: each of their calls
 * builds and validates a label hash, about half a microsecond per request,
 * which a small GET notices. Both objects here register in a prom-client
 * `Registry` like its own metrics do (they answer `get()` with the same
 * shape), so the exposition text is prom-client's.
 */
import type { Metric, Registry } from 'prom-client'

/** Status label of a request whose client left before an answer. */
const ABORTED = -1

interface Durations {
  /** Observations per bucket, not cumulative; the last counts those above every bound. */
  counts: Float64Array
  sum: number
  count: number
}

interface Sample {
  labels: Record<string, string | number>
  value: number
  metricName?: string
}

export class RequestMetrics {
  readonly #bounds: readonly number[]
  /** route -> method -> status -> count */
  readonly #requests = new Map<string, Map<string, Map<number, number>>>()
  /** route -> method -> durations */
  readonly #durations = new Map<string, Map<string, Durations>>()

  constructor (registry: Registry, names: { requests: string, duration: string }, help: { requests: string, duration: string }, bounds: readonly number[]) {
    this.#bounds = bounds
    const reset = (): void => { this.reset() }
    register(registry, names.requests, help.requests, 'counter', () => this.#requestSamples(), reset)
    register(registry, names.duration, help.duration, 'histogram', () => this.#durationSamples(names.duration), reset)
  }

  /** Counts one request; `status` undefined when the client left first, `seconds` undefined to skip the histogram. */
  observe (route: string, method: string, status: number | undefined, seconds: number | undefined): void {
    let byMethod = this.#requests.get(route)
    if (byMethod === undefined) this.#requests.set(route, byMethod = new Map())
    let byStatus = byMethod.get(method)
    if (byStatus === undefined) byMethod.set(method, byStatus = new Map())
    const s = status ?? ABORTED
    byStatus.set(s, (byStatus.get(s) ?? 0) + 1)
    if (seconds === undefined) return

    let durationsByMethod = this.#durations.get(route)
    if (durationsByMethod === undefined) this.#durations.set(route, durationsByMethod = new Map())
    let d = durationsByMethod.get(method)
    if (d === undefined) durationsByMethod.set(method, d = { counts: new Float64Array(this.#bounds.length + 1), sum: 0, count: 0 })
    let i = 0
    while (i < this.#bounds.length && seconds > this.#bounds[i]) i++
    d.counts[i]++
    d.sum += seconds
    d.count++
  }

  /** Forgets every observation (`Registry.resetMetrics()`). */
  reset (): void {
    this.#requests.clear()
    this.#durations.clear()
  }

  #requestSamples (): Sample[] {
    const out: Sample[] = []
    for (const [route, byMethod] of this.#requests) {
      for (const [method, byStatus] of byMethod) {
        for (const [status, value] of byStatus) out.push({ labels: { route, method, status: status === ABORTED ? 'aborted' : String(status) }, value })
      }
    }
    return out
  }

  #durationSamples (name: string): Sample[] {
    const out: Sample[] = []
    for (const [route, byMethod] of this.#durations) {
      for (const [method, d] of byMethod) {
        let cumulative = 0
        for (let i = 0; i < this.#bounds.length; i++) {
          cumulative += d.counts[i]
          out.push({ labels: { route, method, le: this.#bounds[i] }, value: cumulative, metricName: `${name}_bucket` })
        }
        out.push({ labels: { route, method, le: '+Inf' }, value: d.count, metricName: `${name}_bucket` })
        out.push({ labels: { route, method }, value: d.sum, metricName: `${name}_sum` })
        out.push({ labels: { route, method }, value: d.count, metricName: `${name}_count` })
      }
    }
    return out
  }
}

function register (registry: Registry, name: string, help: string, type: 'counter' | 'histogram', values: () => Sample[], reset: () => void): void {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
    reset
  }
  registry.registerMetric(metric as unknown as Metric)
}
