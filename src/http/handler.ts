/**
 * The request handler: rate limit, route, CORS, then the route's handler,
 * with every failure answered through the error table and never thrown
 * into the server.
 */
import { logger } from '@libp2p/logger'
import { applyCors, answerPreflight } from './cors.ts'
import { HttpError, isKnownError } from './errors.ts'
import { HttpMetrics } from './metrics.ts'
import { resolveHttpOptions } from './options.ts'
import { RateLimiter } from './rate-limit.ts'
import { sendError } from './respond.ts'
import { allowedMethods, matchRoute, splitTarget } from './routes.ts'
import type { RequestContext } from './context.ts'
import type { HttpHandler, HttpNode, HttpOptions } from './index.ts'
import type { IncomingMessage, ServerResponse } from 'node:http'

const log = logger('repram:http')

export function createHandler (node: HttpNode, init: HttpOptions): HttpHandler {
  const options = resolveHttpOptions(node, init)
  const limiter = options.rateLimit === false ? undefined : new RateLimiter(options.rateLimit)
  const metrics = new HttpMetrics(node)

  return (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void => {
    const startedAt = performance.now()
    const { path, query } = splitTarget(req.url ?? '/')
    const match = matchRoute(path)
    if (match === undefined && next !== undefined) {
      next()
      return
    }

    const method = req.method ?? 'GET'
    const controller = new AbortController()
    res.once('close', () => {
      // Only a response cut short has work to cancel; aborting builds a
      // DOMException with a stack, too dear to pay on every request.
      if (!res.writableFinished) controller.abort()
      metrics.observeRequest(match?.route.name ?? 'unmatched', method, res.headersSent ? res.statusCode : undefined,
        match?.route.streaming === true ? undefined : (performance.now() - startedAt) / 1000)
    })

    const ctx: RequestContext = { node, options, metrics, req, res, param: match?.param ?? '', query, signal: controller.signal }

    const run = async (): Promise<void> => {
      applyCors(req, res, options.cors)
      // preflights are not counted: a refused preflight would hide the real answer from the page
      if (method !== 'OPTIONS' && limiter !== undefined) {
        const decision = limiter.take(req.socket.remoteAddress ?? 'unknown')
        if (!decision.allowed) {
          throw new HttpError('RateLimitedError', 'too many requests from this address; retry later', { 'Retry-After': String(decision.retryAfterSeconds) })
        }
      }
      if (match === undefined) throw new HttpError('NotFoundError', 'no such endpoint')
      const allowed = allowedMethods(match.route)
      if (method === 'OPTIONS') {
        answerPreflight(res, allowed, options.cors)
        return
      }
      const { methods } = match.route
      const handle = Object.hasOwn(methods, method) ? methods[method] : method === 'HEAD' ? methods.GET : undefined
      if (handle === undefined) {
        throw new HttpError('MethodNotAllowedError', `${method} is not allowed on ${match.route.name}`, { Allow: allowed.join(', ') })
      }
      await handle(ctx)
    }

    run().catch((err: unknown) => {
      if (!isKnownError(err)) log.error('%s %s failed: %e', method, match?.route.name ?? 'unmatched', err)
      if (err instanceof Error && err.name === 'ValueTooLargeError' && !req.complete && !res.headersSent) {
        // the rest of an oversized body is not worth reading: answer, then hang up
        res.setHeader('Connection', 'close')
      }
      try {
        sendError(res, err)
      } catch (sendErr) {
        log.error('could not answer %s %s: %e', method, match?.route.name ?? 'unmatched', sendErr)
        res.destroy()
      }
    })
  }
}
