/**
 * `repram status`: a table of nodes and their health, once or refreshed in
 * place with `--watch`.
 */
import { parseCommandLine, parseDurationMs, stringSetting, urlSettings } from '../args.ts'
import { EXIT } from '../errors.ts'
import { formatBytes, formatDuration, shortPeerId, table, clockTime } from '../format.ts'
import { getJson } from '../http-client.ts'
import { onInterrupt, releaseInterrupts, sleep } from '../signals.ts'
import type { Env } from '../args.ts'

export const STATUS_HELP = `Usage: repram status [options]

Shows a table of nodes: URL, whether it answers, peer id, connected peers,
live entries, bytes and uptime. Exits 1 when a node does not answer (without
--watch).

Options:
  -u, --url URL         a node's HTTP API; repeat it or separate with commas
                        for several nodes (env REPRAM_URL)
                        [default: http://127.0.0.1:8080]
  -w, --watch           refresh the table in place until Ctrl-C
  -i, --interval S      seconds between refreshes with --watch [default: 2]
      --timeout S       a node that has not answered after S seconds is
                        shown as down [default: 3]
      --json            print the statuses as one JSON line (per refresh)
  -h, --help            show this help

Example:
  repram status --url http://10.0.0.1:8080,http://10.0.0.2:8080 --watch`

/** What the table shows of one node. */
export interface NodeStatus {
  url: string
  reachable: boolean
  error?: string
  peerId?: string
  network?: string
  peers?: number
  entries?: number
  bytes?: number
  uptimeMs?: number
  version?: string
}

function num (v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v)
  return undefined
}

function str (v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

/**
 * Reads a `/v1/status` body. Tolerates both camelCase and snake_case names
 * and a peer list or a peer count, so the table also works against nodes of
 * a slightly different version.
 */
export function normalizeStatus (url: string, body: any): NodeStatus {
  const b = body ?? {}
  const counts = b.stats ?? b.store ?? {}
  const peers = Array.isArray(b.peers) ? b.peers.length : num(b.peers) ?? num(b.peer_count) ?? num(b.peerCount) ?? num(counts.peers)
  const uptimeSeconds = num(b.uptimeSeconds) ?? num(b.uptime_seconds) ?? num(b.uptime)
  const uptimeMs = num(b.uptimeMs) ?? num(b.uptime_ms) ?? num(counts.uptimeMs) ?? (uptimeSeconds === undefined ? undefined : uptimeSeconds * 1000)
  return {
    url,
    reachable: true,
    peerId: str(b.peerId) ?? str(b.peer_id) ?? str(b.node_id) ?? str(b.id),
    network: str(b.network),
    peers,
    entries: num(b.entries) ?? num(b.entry_count) ?? num(counts.entries),
    bytes: num(b.bytes) ?? num(b.memory_bytes) ?? num(counts.bytes),
    uptimeMs,
    version: str(b.version)
  }
}

export async function fetchStatus (url: string, timeoutMs: number, signal?: AbortSignal): Promise<NodeStatus> {
  try {
    return normalizeStatus(url, await getJson(url, '/v1/status', { timeoutMs, signal }))
  } catch (err: any) {
    const message = String(err?.message ?? err)
    // "cannot reach URL (connection refused): ..." -> "connection refused"
    const reason = /^cannot reach \S+ \(([^)]*)\)/.exec(message)?.[1] ?? message
    return { url, reachable: false, error: reason }
  }
}

export function statusTable (rows: NodeStatus[]): string {
  return table(
    ['URL', 'STATE', 'PEER ID', 'PEERS', 'ENTRIES', 'BYTES', 'UPTIME'],
    rows.map(r => r.reachable
      ? [r.url, 'up', shortPeerId(r.peerId), String(r.peers ?? '-'), String(r.entries ?? '-'), r.bytes === undefined ? '-' : formatBytes(r.bytes), r.uptimeMs === undefined ? '-' : formatDuration(r.uptimeMs)]
      : [r.url, `down: ${r.error ?? 'no answer'}`, '-', '-', '-', '-', '-'])
  )
}

export async function runStatus (argv: string[], env: Env): Promise<number> {
  const { values } = parseCommandLine('status', argv, {
    url: { type: 'string', short: 'u', multiple: true },
    watch: { type: 'boolean', short: 'w' },
    interval: { type: 'string', short: 'i' },
    timeout: { type: 'string' },
    json: { type: 'boolean' }
  })
  if (values.help === true) { process.stdout.write(STATUS_HELP + '\n'); return EXIT.ok }
  const urls = urlSettings(values, env)
  const timeoutSetting = stringSetting(values, 'timeout', {}, [])
  const timeoutMs = timeoutSetting === undefined ? 3000 : parseDurationMs(timeoutSetting, 1)
  const intervalSetting = stringSetting(values, 'interval', {}, [])
  const intervalMs = intervalSetting === undefined ? 2000 : parseDurationMs(intervalSetting, 100)
  const json = values.json === true

  const snapshot = (signal?: AbortSignal): Promise<NodeStatus[]> => Promise.all(urls.map(u => fetchStatus(u, timeoutMs, signal)))

  if (values.watch !== true) {
    releaseInterrupts() // one table: a signal ends it as it ends any short command
    const rows = await snapshot()
    process.stdout.write((json ? JSON.stringify(rows) : statusTable(rows)) + '\n')
    return rows.every(r => r.reachable) ? EXIT.ok : EXIT.failed
  }

  const interrupt = onInterrupt()
  // Redraw in place only on a terminal; a pipe or file gets one block per refresh.
  const inPlace = !json && process.stdout.isTTY === true
  try {
    while (!interrupt.signal.aborted) {
      const rows = await snapshot(interrupt.signal)
      if (interrupt.signal.aborted) break
      if (json) {
        process.stdout.write(JSON.stringify({ time: Date.now(), nodes: rows }) + '\n')
      } else {
        const up = rows.filter(r => r.reachable).length
        const heading = `repram status  ${clockTime()}  ${up}/${rows.length} up  (every ${intervalMs / 1000}s, Ctrl-C to quit)`
        process.stdout.write((inPlace ? '\x1b[H\x1b[2J' : '') + heading + '\n' + statusTable(rows) + '\n' + (inPlace ? '' : '\n'))
      }
      await sleep(intervalMs, interrupt.signal)
    }
  } finally {
    interrupt.dispose()
  }
  return EXIT.ok
}
