/**
 * `repram watch`: a live tail of a node's changes (the `/v1/watch` SSE
 * stream), plus its peer count, polled from `/v1/status`. Reconnects with
 * backoff when the node goes away after the first connection.
 */
import { parseCommandLine, parseDurationMs, stringSetting, urlSettings } from '../args.ts'
import { CommandError, UsageError, EXIT } from '../errors.ts'
import { clockTime, formatBytes, formatDuration, parseTime, previewValue, shortPeerId } from '../format.ts'
import { request, responseError } from '../http-client.ts'
import { onInterrupt, sleep } from '../signals.ts'
import { readSse } from '../sse.ts'
import { fetchStatus } from './status.ts'
import type { Env } from '../args.ts'
import type { SseEvent } from '../sse.ts'

export const WATCH_HELP = `Usage: repram watch [options]

Prints every change on the node as it happens (set, delete, expire, from
local writes and replication), and its peer count when it changes. Runs until
Ctrl-C (exit 0); reconnects if the node restarts, also while it answers
429 or 5xx on the way back.

Options:
  -p, --prefix P        only keys starting with P
  -i, --interval S      seconds between peer-count checks; 0 turns them off
                        [default: 5]
      --json            one JSON object per line: {"event":"set","key":...}
  -u, --url URL         node HTTP API (env REPRAM_URL) [default: http://127.0.0.1:8080]
      --timeout S       give up connecting after S seconds [default: 10]
  -h, --help            show this help`

const MAX_BACKOFF_MS = 10_000

/** A `Retry-After` in seconds, as ms within [0.1 s, 60 s]; `undefined` when absent or a date. */
function retryAfterMs (header: string | null): number | undefined {
  if (header === null || !/^\d+$/.test(header.trim())) return undefined
  return Math.min(60_000, Math.max(100, Number(header.trim()) * 1000))
}

/**
 * One event of the stream as a log line, e.g.
 * `set     "greeting" = "hello"  5 B, ttl 59s, from 12D3…a1b2c3`.
 */
export function describeEvent (evt: SseEvent, now = Date.now()): string {
  let data: Record<string, any> = {}
  try {
    const parsed = JSON.parse(evt.data)
    if (parsed !== null && typeof parsed === 'object') data = parsed
  } catch {
    return `${evt.event.padEnd(7)} ${evt.data}`
  }
  const key = typeof data.key === 'string' ? JSON.stringify(data.key) : ''
  const value = typeof data.value === 'string'
    ? ' = ' + (data.encoding === 'base64' ? previewValue(Buffer.from(data.value, 'base64')) : previewValue(new TextEncoder().encode(data.value)))
    : ''
  const details: string[] = []
  if (typeof data.size === 'number') details.push(formatBytes(data.size))
  const expiresAt = parseTime(data.expires_at ?? data.expiresAt)
  if (evt.event === 'set' && expiresAt !== undefined) details.push(`ttl ${formatDuration(expiresAt - now)}`)
  // A local write's origin is the watched node itself: not worth a column.
  if (data.local === true) details.push('written here')
  else if (typeof data.origin === 'string') details.push(`from ${shortPeerId(data.origin)}`)
  const peerId = data.peer_id ?? data.peerId
  if (key === '' && typeof peerId === 'string') details.unshift(shortPeerId(peerId))
  const head = `${evt.event.padEnd(7)} ${key}${value}`
  return details.length === 0 ? head.trimEnd() : `${head}  ${details.join(', ')}`
}

export async function runWatch (argv: string[], env: Env): Promise<number> {
  const { values } = parseCommandLine('watch', argv, {
    url: { type: 'string', short: 'u', multiple: true },
    prefix: { type: 'string', short: 'p' },
    interval: { type: 'string', short: 'i' },
    timeout: { type: 'string' },
    json: { type: 'boolean' }
  })
  if (values.help === true) { process.stdout.write(WATCH_HELP + '\n'); return EXIT.ok }
  const urls = urlSettings(values, env)
  if (urls.length > 1) throw new UsageError('watch follows one node: give one --url', 'watch')
  const url = urls[0]
  const timeoutSetting = stringSetting(values, 'timeout', {}, [])
  const timeoutMs = timeoutSetting === undefined ? 10_000 : parseDurationMs(timeoutSetting, 1)
  const intervalSetting = stringSetting(values, 'interval', {}, [])
  const intervalMs = intervalSetting === undefined ? 5000 : parseDurationMs(intervalSetting)
  const prefix = typeof values.prefix === 'string' ? values.prefix : undefined
  const json = values.json === true
  const path = '/v1/watch' + (prefix === undefined ? '' : '?' + new URLSearchParams({ prefix }).toString())

  const print = (event: string, text: string, fields: Record<string, unknown>): void => {
    process.stdout.write(json ? JSON.stringify({ event, time: Date.now(), ...fields }) + '\n' : `${clockTime()}  ${text}\n`)
  }

  const interrupt = onInterrupt()
  // Aborted on Ctrl-C, and on the way out after an error so the peer poller ends too.
  const done = new AbortController()
  const signal = AbortSignal.any([interrupt.signal, done.signal])
  let lastPeers: number | undefined
  const pollPeers = async (): Promise<void> => {
    while (intervalMs > 0 && !signal.aborted) {
      const status = await fetchStatus(url, Math.min(timeoutMs, 5000), signal)
      if (signal.aborted) return
      if (status.reachable && status.peers !== undefined && status.peers !== lastPeers) {
        if (lastPeers !== undefined) print('peers', `peers   ${lastPeers} -> ${status.peers}`, { peers: status.peers, previous: lastPeers })
        lastPeers = status.peers
      }
      await sleep(intervalMs, signal)
    }
  }

  let connectedOnce = false
  /** Whether the node's refusals since the connection was lost were reported. */
  let waiting = false
  let backoffMs = 500
  let poller: Promise<void> | undefined
  try {
    while (!signal.aborted) {
      let res: Response
      try {
        res = await request(url, path, { headers: { accept: 'text/event-stream' }, signal, timeoutMs })
      } catch (err) {
        if (signal.aborted) break
        if (!connectedOnce) throw err
        await sleep(backoffMs, signal)
        backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS)
        continue
      }
      if (connectedOnce && (res.status === 429 || res.status >= 500)) {
        // The node is back but not serving yet (an embedded node restarting, a
        // proxy in front of it), or asks us to slow down: wait as for a lost
        // connection, or as long as it asks (Retry-After), and try again.
        await res.body?.cancel()
        if (!waiting) print('waiting', `${url} answered ${res.status} ${res.statusText}; retrying…`, { url, status: res.status })
        waiting = true
        await sleep(retryAfterMs(res.headers.get('retry-after')) ?? backoffMs, signal)
        backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS)
        continue
      }
      if (!res.ok || res.body === null) throw await responseError(url, res, `watch ${path}`)
      waiting = false
      if (!connectedOnce) {
        const status = await fetchStatus(url, timeoutMs, signal)
        lastPeers = status.peers
        const who = status.reachable ? ` node ${shortPeerId(status.peerId)}, ${status.peers ?? '?'} peers,` : ''
        print('connected', `watching ${url}${prefix === undefined ? '' : ` (prefix ${JSON.stringify(prefix)})`}:${who} Ctrl-C to quit`,
          { url, prefix, peerId: status.peerId, peers: status.peers })
        poller = pollPeers()
      } else {
        print('reconnected', `reconnected to ${url}`, { url })
      }
      connectedOnce = true
      backoffMs = 500
      try {
        for await (const evt of readSse(res.body)) {
          let fields: Record<string, unknown> = {}
          try { fields = JSON.parse(evt.data) } catch { fields = { data: evt.data } }
          print(evt.event, describeEvent(evt), fields)
        }
      } catch (err) {
        if (signal.aborted) break
      }
      if (signal.aborted) break
      print('disconnected', `lost the connection to ${url}; reconnecting…`, { url })
    }
  } catch (err) {
    if (err instanceof CommandError || err instanceof UsageError) throw err
    if (!signal.aborted) throw err
  } finally {
    done.abort()
    interrupt.dispose()
    await poller
  }
  return EXIT.ok
}
