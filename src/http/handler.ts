/**
 * The request handler: route, rate limit, then the route's handler, with
 * every failure answered through the error table and never thrown into the
 * server. Every answer carries the CORS headers.
 *
 * The request target is split at `?` by hand rather than read with
 * `new URL(target, base)`, which would take `//host/...` for another host.
 */
import { performance } from 'node:perf_hooks'
import { logger } from '@libp2p/logger'
import { AnswerCache } from './answers.ts'
import { RequestContext } from './context.ts'
import { corsHeaders, preflightHeaders } from './cors.ts'
import { HttpError, isKnownError } from './errors.ts'
import { HttpMetrics } from './metrics.ts'
import { resolveHttpOptions } from './options.ts'
import { RateLimiter } from './rate-limit.ts'
import { sendError } from './respond.ts'
import { allowedMethods, handlerOf, matchRoute } from './routes.ts'
import type { Route } from './routes.ts'
import type { HttpHandler, HttpNode, HttpOptions } from './index.ts'
import type { IncomingMessage, ServerResponse } from 'node:http'

const log = logger('repram:http')
const CLOSE_CONNECTION = Object.freeze({ Connection: 'close' })

export function createHandler (node: HttpNode, init: HttpOptions): HttpHandler {
  const options = resolveHttpOptions(node, init)
  const limiter = options.rateLimit === false ? undefined : new RateLimiter(options.rateLimit)
  const metrics = new HttpMetrics(node)
  const answers = new AnswerCache()
  const cors = corsHeaders(options.cors)

  /** Runs the route's handler for `method`, or answers a preflight; throws the error to answer otherwise (rate limit, no route, wrong method). */
  const dispatch = (ctx: RequestContext, route: Route | undefined, method: string): void | Promise<void> => {
    // preflights are not counted: a refused preflight would hide the real answer from the page
    if (method !== 'OPTIONS' && limiter !== undefined) {
      const decision = limiter.take(ctx.req.socket.remoteAddress ?? 'unknown')
      if (!decision.allowed) {
        throw new HttpError('RateLimitedError', 'too many requests from this address; retry later', { 'Retry-After': String(decision.retryAfterSeconds) })
      }
    }
    if (route === undefined) throw new HttpError('NotFoundError', 'no such endpoint')
    const handle = handlerOf(route, method)
    if (handle !== undefined) return handle(ctx)
    const allowed = allowedMethods(route)
    if (method === 'OPTIONS') {
      ctx.res.writeHead(204, { ...ctx.headers, ...preflightHeaders(allowed, options.cors) })
      ctx.res.end()
      return
    }
    throw new HttpError('MethodNotAllowedError', `${method} is not allowed on ${route.name}`, { Allow: allowed.join(', ') })
  }

  const fail = (ctx: RequestContext, routeName: string, method: string, err: unknown): void => {
    if (!isKnownError(err)) log.error('%s %s failed: %e', method, routeName, err)
    // the rest of an oversized body is not worth reading: answer, then hang up
    const hangUp = err instanceof Error && err.name === 'ValueTooLargeError' && !ctx.req.complete
    try {
      sendError(ctx, err, hangUp ? CLOSE_CONNECTION : undefined)
    } catch (sendErr) {
      log.error('could not answer %s %s: %e', method, routeName, sendErr)
      ctx.res.destroy()
    }
  }

  return (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void => {
    const startedAt = performance.now()
    const target = originForm(req.url ?? '/')
    const q = target.indexOf('?')
    const match = matchRoute(q === -1 ? target : target.slice(0, q))
    if (match === undefined && next !== undefined) {
      next()
      return
    }

    const method = req.method ?? 'GET'
    const route = match?.route
    const routeName = route?.name ?? 'unmatched'
    const ctx = new RequestContext(node, options, metrics, answers, req, res, cors(req), match?.param ?? '', q === -1 ? '' : target.slice(q + 1))
    // Counted once the route's handler is done (for a watch stream: once it
    // ended). A request whose client left before the answer went out counts
    // as aborted; a stream's client leaving is how a stream ends.
    const streaming = route?.streaming === true
    const done = (): void => {
      const aborted = !res.headersSent || (!streaming && res.destroyed && !res.writableFinished)
      metrics.observeRequest(routeName, method, aborted ? undefined : res.statusCode,
        streaming ? undefined : (performance.now() - startedAt) / 1000)
    }

    // Synchronous as far as the route lets it be: no promise for a route that answers at once.
    let pending: void | Promise<void>
    try {
      pending = dispatch(ctx, route, method)
    } catch (err) {
      fail(ctx, routeName, method, err)
      done()
      return
    }
    if (pending === undefined) {
      done()
      return
    }
    pending.then(done, (err: unknown) => {
      fail(ctx, routeName, method, err)
      done()
    })
  }
}

/**
 * The request target in origin form (`/path?query`): an absolute-form target
 * (`http://host/path`, RFC 9112 section 3.2.2, which servers must accept)
 * loses its scheme and authority.
 */
function originForm (target: string): string {
  if (target.charCodeAt(0) === 0x2f) return target // '/'
  const authority = /^https?:\/\/[^/?#]*/i.exec(target)
  if (authority === null) return target
  const rest = target.slice(authority[0].length)
  return rest === '' || rest[0] === '?' ? '/' + rest : rest
}
