/** What every route handler gets: the node, the resolved options, the request and response, and a signal for the client going away. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { HttpNode } from './index.ts'
import type { HttpMetrics } from './metrics.ts'
import type { ResolvedHttpOptions } from './options.ts'

export interface RequestContext {
  node: HttpNode
  options: ResolvedHttpOptions
  metrics: HttpMetrics
  req: IncomingMessage
  res: ServerResponse
  /** The undecoded part of the path a route captured (the key of `/v1/data/{key}`), else `''`. */
  param: string
  query: URLSearchParams
  /** Aborted when the response closes: finished, or the client went away. */
  signal: AbortSignal
}

export type RouteHandler = (ctx: RequestContext) => Promise<void> | void
