/**
 * Prometheus metrics of one handler, in a registry of its own (never the
 * global one, so several nodes or handlers in one process do not collide):
 * HTTP requests and latency observed here, and the node's gauges and
 * counters read from `node.stats()` at each scrape.
 */
import { logger } from '@libp2p/logger'
import { Counter, Gauge, Registry } from 'prom-client'
import { RequestMetrics } from './request-metrics.ts'
import type { RequestContext } from './context.ts'
import type { HttpNode } from './index.ts'
import type { NodeStats } from '../types.ts'

const log = logger('repram:http:metrics')

type StatsCounter = keyof NodeStats['counters']

/** Node counters exposed, with their metric names and help. */
const COUNTERS: ReadonlyArray<[StatsCounter, string, string]> = [
  ['putsLocal', 'repram_puts_local_total', 'Writes made on this node'],
  ['deletesLocal', 'repram_deletes_local_total', 'Deletions made on this node'],
  ['replicatedApplied', 'repram_replicated_applied_total', 'Writes and deletions received from peers and applied'],
  ['replicatedStale', 'repram_replicated_stale_total', 'Writes received from peers that were older than the stored ones'],
  ['gossipSent', 'repram_gossip_sent_total', 'Gossip messages published'],
  ['gossipReceived', 'repram_gossip_received_total', 'Gossip messages received'],
  ['rejected', 'repram_rejected_messages_total', 'Messages or records rejected as malformed, oversized, expired or from the future'],
  ['expired', 'repram_expired_total', 'Entries removed because their TTL ran out'],
  ['syncRounds', 'repram_sync_rounds_total', 'Sync exchanges with peers'],
  ['syncEntriesReceived', 'repram_sync_entries_received_total', 'Entries received through sync'],
  ['syncBytesSent', 'repram_sync_bytes_sent_total', 'Bytes sent by the sync protocol'],
  ['syncBytesReceived', 'repram_sync_bytes_received_total', 'Bytes received by the sync protocol'],
  ['syncFailures', 'repram_sync_failures_total', 'Sync exchanges that failed'],
  ['syncBucketsSkipped', 'repram_sync_buckets_skipped_total', 'Sync buckets left out because their last exchange with the peer changed nothing'],
  ['dialFailures', 'repram_dial_failures_total', 'Failed dials to peers'],
  ['backgroundErrors', 'repram_background_errors_total', 'Errors caught in background tasks']
]

/** Node gauges exposed. */
const GAUGES: ReadonlyArray<[string, string, (s: NodeStats) => number]> = [
  ['repram_entries', 'Live entries in the store', s => s.entries],
  ['repram_bytes', 'Bytes of live keys and values', s => s.bytes],
  ['repram_tombstones', 'Deletion and overwrite markers kept', s => s.tombstones],
  ['repram_peers', 'Connected REPRAM peers', s => s.peers],
  ['repram_uptime_seconds', 'Time since the node started', s => s.uptimeMs / 1000],
  ['repram_node_started', '1 while the node is started, else 0', s => s.started ? 1 : 0]
]

const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS'])

export class HttpMetrics {
  readonly registry = new Registry()
  readonly #node: HttpNode
  readonly #requests: RequestMetrics
  readonly #watchStreams: Gauge
  /** The stats read for the scrape under way; collectors read it instead of each calling `stats()`. */
  #stats: NodeStats | undefined

  constructor (node: HttpNode) {
    this.#node = node
    const registers = [this.registry]
    this.#requests = new RequestMetrics(this.registry, {
      requests: 'repram_http_requests_total',
      duration: 'repram_http_request_duration_seconds'
    }, {
      requests: 'HTTP requests answered, by route template, method and status ("aborted" when the client left before an answer)',
      duration: 'Time from request to the end of the response (watch streams excluded)'
    }, [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
    this.#watchStreams = new Gauge({ name: 'repram_http_watch_streams', help: 'Open /v1/watch streams', registers })

    // registered in the registry, which is all that keeps them: nothing else reads them
    const stats = (): NodeStats | undefined => this.#stats
    for (const [name, help, pick] of GAUGES) {
      new Gauge({
        name,
        help,
        registers,
        collect () {
          const s = stats()
          if (s !== undefined) this.set(pick(s))
        }
      })
    }
    for (const [field, name, help] of COUNTERS) {
      new Counter({
        name,
        help,
        registers,
        collect () {
          const value = stats()?.counters[field]
          // the node counts; this only mirrors its current total
          this.reset()
          if (typeof value === 'number' && value > 0) this.inc(value)
        }
      })
    }
  }

  /** Counts one answered request; `status` undefined when the client left first, `seconds` undefined to skip the histogram. */
  observeRequest (route: string, method: string, status: number | undefined, seconds: number | undefined): void {
    this.#requests.observe(route, METHODS.has(method) ? method : 'OTHER', status, seconds)
  }

  watchOpened (): void { this.#watchStreams.inc() }
  watchClosed (): void { this.#watchStreams.dec() }

  /** The exposition text, with the node's numbers read now. */
  async render (): Promise<string> {
    try {
      this.#stats = this.#node.stats()
    } catch (err) {
      // a stopped node may not report; its last numbers stay, repram_node_started says why
      log('stats unavailable: %e', err)
    }
    return this.registry.metrics()
  }
}

export async function metrics ({ res, headers, metrics }: RequestContext): Promise<void> {
  const text = await metrics.render()
  res.writeHead(200, {
    ...headers,
    'Content-Type': metrics.registry.contentType,
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store'
  })
  res.end(text)
}
