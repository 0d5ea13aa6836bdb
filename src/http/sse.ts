/**
 * `/v1/watch`: the node's changes as Server-Sent Events. One event per
 * change, named after its type (`set`, `delete`, `expire`), with one line of
 * JSON as data; comment lines keep idle connections open through proxies.
 * The stream ends when the client leaves or the server closes. A client
 * that reads too slowly (8 MiB unsent) is dropped, its connection closed at
 * once, rather than buffered without bound (it can reconnect and list the
 * keys again).
 */
import { logger } from '@libp2p/logger'
import { AbortError, NotStartedError } from '../errors.ts'
import { isoTime } from './respond.ts'
import { textOrBase64 } from '../util/utf8.ts'
import type { RequestContext } from './context.ts'
import type { Change } from '../types.ts'

const log = logger('repram:http:watch')

/** Unsent bytes a stream may pile up before its client counts as too slow. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024

export interface WatchEvent {
  event: Change['type']
  data: Record<string, unknown>
}

/**
 * The event for `change`. A set's value is included when it is at most
 * `valueMaxBytes` bytes: as text (`encoding: 'utf8'`) when it is valid
 * UTF-8, else as base64 (`encoding: 'base64'`).
 */
export function changeEvent (change: Change, valueMaxBytes: number): WatchEvent {
  switch (change.type) {
    case 'set': {
      const { entry } = change
      const data: Record<string, unknown> = {
        key: change.key,
        version: entry.version,
        origin: entry.origin,
        local: change.local,
        created_at: isoTime(entry.createdAt),
        expires_at: isoTime(entry.expiresAt),
        size: entry.value.byteLength
      }
      if (entry.contentType !== undefined) data.content_type = entry.contentType
      if (entry.value.byteLength <= valueMaxBytes) {
        const { value, encoding } = textOrBase64(entry.value)
        data.value = value
        data.encoding = encoding
      }
      return { event: 'set', data }
    }
    case 'delete':
      return { event: 'delete', data: { key: change.key, version: change.version, origin: change.origin, local: change.local } }
    case 'expire':
      return { event: 'expire', data: { key: change.key, expires_at: isoTime(change.expiresAt) } }
  }
}

/** One SSE frame. JSON escapes line breaks, so the data fits on one `data:` line. */
export function formatEvent ({ event, data }: WatchEvent): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}

export async function watch (ctx: RequestContext): Promise<void> {
  const { node, options, metrics, res, headers, query, signal } = ctx
  if (!node.started) throw new NotStartedError()
  if (options.signal?.aborted === true) throw new AbortError('the server is closing')

  if (ctx.req.method === 'HEAD') {
    res.writeHead(200, { ...headers, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store' })
    res.end()
    return
  }

  const controller = new AbortController()
  const stop = (): void => { controller.abort() }
  signal.addEventListener('abort', stop, { once: true })
  options.signal?.addEventListener('abort', stop, { once: true })

  const prefix = query.get('prefix') ?? ''
  const changes = node.watch({ prefix: prefix === '' ? undefined : prefix, signal: controller.signal })

  res.writeHead(200, {
    ...headers,
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    // a stream's connection is not worth keeping for reuse, and closing it
    // with the stream lets server.close() finish without waiting for an idle timeout
    Connection: 'close',
    // tell buffering reverse proxies (nginx) to pass events through at once
    'X-Accel-Buffering': 'no'
  })
  res.write(': watching\n\n')
  const keepAlive = setInterval(() => { res.write(': keep-alive\n\n') }, options.watchKeepAlive)
  keepAlive.unref()
  metrics.watchOpened()

  // A client dropped for reading too slowly has its connection destroyed:
  // ending it would queue the end behind everything still unsent, which a
  // client that does not read keeps in memory for as long as it stays.
  let dropped = false
  try {
    for await (const change of changes) {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        log('dropping a watch client that reads too slowly')
        dropped = true
        break
      }
      res.write(formatEvent(changeEvent(change, options.watchValueMaxBytes)))
    }
  } catch (err) {
    // the node's own buffer overflowed: the same slow-client case, seen from the other side
    if (err instanceof Error && err.name === 'WatchOverflowError') {
      log('dropping a watch client that fell behind: %s', err.message)
      dropped = true
    } else if (!controller.signal.aborted) {
      log.error('watch stream failed: %e', err)
    }
  } finally {
    clearInterval(keepAlive)
    signal.removeEventListener('abort', stop)
    options.signal?.removeEventListener('abort', stop)
    controller.abort()
    metrics.watchClosed()
    if (dropped) res.destroy()
    else res.end()
  }
}
