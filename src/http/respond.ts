/** Small response helpers shared by the routes: JSON bodies, errors, TTL format. */
import { errorResponse } from './errors.ts'
import type { Reply } from './context.ts'
import type { OutgoingHttpHeaders } from 'node:http'

export { isoTime } from './iso-time.ts'

const NO_HEADERS: Readonly<OutgoingHttpHeaders> = Object.freeze({})

/** Sends `body` as JSON with `status`, the reply's own headers and `extra`. */
export function sendJson (reply: Reply, status: number, body: unknown, extra: Readonly<OutgoingHttpHeaders> = NO_HEADERS): void {
  const text = JSON.stringify(body)
  reply.res.writeHead(status, {
    ...reply.headers,
    ...extra,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store'
  })
  reply.res.end(text)
}

/**
 * Answers `err` through the status table. When the response has already
 * started (a stream that failed half-way) the only honest thing left is to
 * cut the connection.
 */
export function sendError (reply: Reply, err: unknown, extra: Readonly<OutgoingHttpHeaders> = NO_HEADERS): void {
  if (reply.res.headersSent) {
    reply.res.destroy()
    return
  }
  const { status, headers, body } = errorResponse(err)
  sendJson(reply, status, body, { ...headers, ...extra })
}

/** Milliseconds as seconds, without a trailing `.000` (`1500` -> `"1.5"`, `60000` -> `"60"`). */
export function msToSeconds (ms: number): string {
  return String(Math.round(ms) / 1000)
}
