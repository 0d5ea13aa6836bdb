/** Small response helpers shared by the routes: JSON bodies, errors, time and TTL formats. */
import type { ServerResponse } from 'node:http'
import { errorResponse } from './errors.ts'

/** Sends `body` as JSON with `status`. */
export function sendJson (res: ServerResponse, status: number, body: unknown, headers: Record<string, string | number> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store'
  })
  res.end(text)
}

/**
 * Answers `err` through the status table. When the response has already
 * started (a stream that failed half-way) the only honest thing left is to
 * cut the connection.
 */
export function sendError (res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const { status, headers, body } = errorResponse(err)
  sendJson(res, status, body, headers)
}

/** Epoch ms as an RFC 3339 / ISO 8601 UTC timestamp with milliseconds, the format of every time the HTTP API shows. */
export function isoTime (epochMs: number): string {
  return new Date(epochMs).toISOString()
}

/** Milliseconds as seconds, without a trailing `.000` (`1500` -> `"1.5"`, `60000` -> `"60"`). */
export function msToSeconds (ms: number): string {
  return String(Math.round(ms) / 1000)
}
