/**
 * CORS for browser clients (such as a fade board page served elsewhere).
 * Every response carries the allow-origin and expose headers, errors and
 * 429s included, so a page can read why it failed and when to retry.
 *
 * The headers go into each answer's one `writeHead` call rather than through
 * `setHeader` up front: once any header is set that way, Node moves every
 * later header through `setHeader` too, which costs a small GET several
 * microseconds.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http'

/** Request headers a browser may send besides the safelisted ones. */
const ALLOWED_HEADERS = 'Content-Type, X-TTL'
/** Response headers a page may read besides the safelisted ones. */
const EXPOSED_HEADERS = 'X-TTL, X-Expires-At, X-Created-At, X-Original-TTL, X-Remaining-TTL, X-Version, Retry-After, Allow'
const PREFLIGHT_MAX_AGE_S = '600'
const NONE: Readonly<OutgoingHttpHeaders> = Object.freeze({})
// the answer depends on the request's Origin: caches must know
const VARY_ONLY: Readonly<OutgoingHttpHeaders> = Object.freeze({ Vary: 'Origin' })

/** The CORS headers of every answer, for a CORS setting: a function of the request. */
export function corsHeaders (cors: string | readonly string[] | false): (req: IncomingMessage) => Readonly<OutgoingHttpHeaders> {
  if (cors === false) return () => NONE
  if (typeof cors === 'string') {
    const fixed = Object.freeze({ 'Access-Control-Allow-Origin': cors, 'Access-Control-Expose-Headers': EXPOSED_HEADERS })
    return () => fixed
  }
  const allowed = new Set(cors)
  return req => {
    const origin = req.headers.origin
    if (origin === undefined || !allowed.has(origin)) return VARY_ONLY
    return { Vary: 'Origin', 'Access-Control-Allow-Origin': origin, 'Access-Control-Expose-Headers': EXPOSED_HEADERS }
  }
}

/** The headers of a preflight's answer (`204`) for a route that allows `methods`. */
export function preflightHeaders (methods: readonly string[], cors: string | readonly string[] | false): OutgoingHttpHeaders {
  const list = methods.join(', ')
  if (cors === false) return { Allow: list }
  return {
    'Access-Control-Allow-Methods': list,
    'Access-Control-Allow-Headers': ALLOWED_HEADERS,
    'Access-Control-Max-Age': PREFLIGHT_MAX_AGE_S,
    Allow: list
  }
}
