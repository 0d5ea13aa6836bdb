/**
 * CORS for browser clients (such as a fade board page served elsewhere).
 * Every response carries the allow-origin and expose headers, errors and
 * 429s included, so a page can read why it failed and when to retry.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

/** Request headers a browser may send besides the safelisted ones. */
const ALLOWED_HEADERS = 'Content-Type, X-TTL'
/** Response headers a page may read besides the safelisted ones. */
const EXPOSED_HEADERS = 'X-TTL, X-Expires-At, X-Created-At, X-Original-TTL, X-Remaining-TTL, X-Version, Retry-After, Allow'
const PREFLIGHT_MAX_AGE_S = '600'

/** Adds the CORS response headers for `req`'s origin (none when `cors` is false or the origin is not allowed). */
export function applyCors (req: IncomingMessage, res: ServerResponse, cors: string | readonly string[] | false): void {
  if (cors === false) return
  let allowOrigin: string | undefined
  if (typeof cors === 'string') {
    allowOrigin = cors
  } else {
    // the answer depends on the request's Origin: caches must know
    res.setHeader('Vary', 'Origin')
    const origin = req.headers.origin
    if (origin !== undefined && cors.includes(origin)) allowOrigin = origin
  }
  if (allowOrigin === undefined) return
  res.setHeader('Access-Control-Allow-Origin', allowOrigin)
  res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS)
}

/** Answers a CORS preflight for a route that allows `methods`. */
export function answerPreflight (res: ServerResponse, methods: readonly string[], cors: string | readonly string[] | false): void {
  if (cors !== false) {
    res.setHeader('Access-Control-Allow-Methods', methods.join(', '))
    res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS)
    res.setHeader('Access-Control-Max-Age', PREFLIGHT_MAX_AGE_S)
  }
  res.setHeader('Allow', methods.join(', '))
  res.writeHead(204)
  res.end()
}
