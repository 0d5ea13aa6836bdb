/**
 * What every route handler gets: the node, the resolved options, the request
 * and response, the headers every answer carries, and, made only when a
 * handler asks for them, the parsed query and a signal for the client going
 * away (a `URLSearchParams` and an `AbortController` per request are a
 * measurable share of a small GET).
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { AnswerCache } from './answers.ts'
import type { HttpNode } from './index.ts'
import type { HttpMetrics } from './metrics.ts'
import type { ResolvedHttpOptions } from './options.ts'

/** Where an answer goes: the response and the headers every answer on it carries (CORS). */
export interface Reply {
  res: ServerResponse
  headers: Readonly<OutgoingHttpHeaders>
}

export class RequestContext implements Reply {
  readonly node: HttpNode
  readonly options: ResolvedHttpOptions
  readonly metrics: HttpMetrics
  /** GET answers kept for keys read again (one cache per handler). */
  readonly answers: AnswerCache
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly headers: Readonly<OutgoingHttpHeaders>
  /** The undecoded part of the path a route captured (the key of `/v1/data/{key}`), else `''`. */
  readonly param: string
  readonly #rawQuery: string
  #query?: URLSearchParams
  #controller?: AbortController

  constructor (node: HttpNode, options: ResolvedHttpOptions, metrics: HttpMetrics, answers: AnswerCache, req: IncomingMessage, res: ServerResponse,
    headers: Readonly<OutgoingHttpHeaders>, param: string, rawQuery: string) {
    this.node = node
    this.options = options
    this.metrics = metrics
    this.answers = answers
    this.req = req
    this.res = res
    this.headers = headers
    this.param = param
    this.#rawQuery = rawQuery
  }

  /** The request's query string, parsed on first use. */
  get query (): URLSearchParams {
    this.#query ??= new URLSearchParams(this.#rawQuery)
    return this.#query
  }

  /**
   * Aborted when the response closes before it finished (the client went
   * away). Made on first use, with the one `close` listener it needs.
   */
  get signal (): AbortSignal {
    if (this.#controller === undefined) {
      const controller = new AbortController()
      const res = this.res
      res.once('close', () => {
        // aborting builds a DOMException with a stack: only for answers cut short
        if (!res.writableFinished) controller.abort()
      })
      this.#controller = controller
    }
    return this.#controller.signal
  }
}

export type RouteHandler = (ctx: RequestContext) => Promise<void> | void
