/**
 * @packageDocumentation
 *
 * The HTTP adapter of REPRAM: serves a node over HTTP with the REPRAM v1 API
 * (`/v1/data/{key}` with the TTL in seconds in `X-TTL`), so existing REPRAM
 * clients, browsers (CORS) and Prometheus can use it. It is a thin layer over
 * the node's public API and is offered at three levels: a request handler to
 * mount in an existing server, an unstarted `http.Server`, and a started one.
 *
 * @example
 *
 * ```TypeScript
 * import { RepramNode } from 'repram'
 * import { startHttpServer } from 'repram/http'
 *
 * // Joins no one: give `bootstrap: ['/ip4/<host>/tcp/<port>/p2p/<peer id>']` (or leave mDNS on) to join peers
 * const node = new RepramNode({ mdns: false })
 * await node.start()
 *
 * // 127.0.0.1 unless told otherwise: serving the LAN is an explicit choice
 * const http = await startHttpServer(node, { port: 8080 })
 *
 * await fetch(`${http.url}/v1/data/greeting`, { method: 'PUT', headers: { 'X-TTL': '60' }, body: 'hello' })
 * const res = await fetch(`${http.url}/v1/data/greeting`)
 * console.log(await res.text(), res.headers.get('X-Remaining-TTL')) // hello 59
 *
 * await http.close()
 * await node.stop()
 * ```
 *
 * ## API
 *
 * Every time is an RFC 3339 / ISO 8601 UTC timestamp with milliseconds
 * (`2025-01-31T12:00:00.000Z`); every TTL is in seconds (fractions allowed
 * on input, e.g. `X-TTL: 1.5`). JSON field names are snake_case. Errors are
 * `{ "error": "<ErrorName>", "message": "..." }`.
 *
 * | Method and path | Answer |
 * | --- | --- |
 * | `PUT` or `POST /v1/data/{key}` | Stores the raw body. TTL from `?ttl=` or the `X-TTL` header (the query wins when both are given), else the node's `defaultTtl`; the request's `Content-Type` is stored with the value. `201` when `writeQuorum` other nodes confirmed within `writeTimeout`, `202` when stored locally but not (yet) confirmed (at once when the node has no peers). Headers `X-TTL` (effective TTL, s) and `X-Expires-At`; body `{ key, expires_at, version, confirmations }`. `400` bad key, TTL or `Content-Type`, `413` body over `maxBodyBytes`, `507` store full. |
 * | `GET /v1/data/{key}` | The raw value with its stored `Content-Type` (else `application/octet-stream`) and `X-Created-At`, `X-Expires-At`, `X-Original-TTL`, `X-Remaining-TTL` (whole seconds, rounded down), `X-Version`. `404` when absent or expired. `HEAD`: the same without the body. A key read again is answered from its kept answer after the node's `isCurrent` re-check (see `answers.ts`): never staler than a fresh read. |
 * | `DELETE /v1/data/{key}` | `204` when the key had a live value here (the deletion then replicates), `404` otherwise (nothing is deleted). |
 * | `GET /v1/keys?prefix=&limit=&cursor=` | `{ keys, next_cursor }`: live keys in code-unit order, `limit` (default 1000, at most 10000) per page; pass `next_cursor` back as `cursor` for the next page; `null` on the last page. |
 * | `GET /v1/health` | `{ status: 'ok', peer_id, network, peers }`; `503 { status: 'stopped' }` while the node is not started. |
 * | `GET /v1/status` | Peer id, addresses, network, peer count, entries, bytes, tombstones, uptime, TTL limits, package version. |
 * | `GET /v1/topology` | `{ peer_id, network, addresses, peers: [{ peer_id, addresses }] }`. |
 * | `GET /v1/metrics` | Prometheus text: HTTP requests and latency, and the node's gauges and counters (`repram_*`). |
 * | `GET /v1/watch?prefix=` | Server-Sent Events, one per change, named `set`, `delete` or `expire` (see below); a `: keep-alive` comment every `watchKeepAlive` ms. |
 * | `/data/{key}`, `/health` | Aliases of `/v1/data/{key}` and `/v1/health`. |
 *
 * Keys are percent-decoded (`decodeURIComponent`); `/` may appear raw or as
 * `%2F`. Unknown paths answer `404`, a known path with another method `405`
 * with `Allow`, too many requests from one address `429` with `Retry-After`.
 *
 * Watch event data (JSON, one line):
 * - `set`: `{ key, version, origin, local, created_at, expires_at, size, content_type?, value?, encoding? }`.
 *   The value is included when it is at most `watchValueMaxBytes` bytes:
 *   as text with `encoding: 'utf8'` when it is valid UTF-8, else base64 with
 *   `encoding: 'base64'`. Larger values are left out (no `value`, no
 *   `encoding`); `GET /v1/data/{key}` fetches them.
 * - `delete`: `{ key, version, origin, local }`.
 * - `expire`: `{ key, expires_at }`.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createHandler } from './handler.ts'
import { listen, RepramHttpServer } from './server.ts'
import { resolveListenOptions } from './options.ts'
import type { RateLimitOptions } from './rate-limit.ts'
import type { AbortOptions, Change, Entry, KeysOptions, NodeStats, PutOptions, PutReceipt, WatchOptions } from '../types.ts'
import type { Config } from '../config.ts'

export type { RateLimitOptions } from './rate-limit.ts'

/**
 * The part of `RepramNode`'s public API the adapter uses. Any `RepramNode`
 * fits; the adapter never reaches further into it.
 */
export interface HttpNode {
  readonly config: Readonly<Pick<Config, 'network' | 'defaultTtl' | 'minTtl' | 'maxTtl' | 'maxValueBytes' | 'maxKeyBytes' | 'clock'>>
  readonly started: boolean
  readonly peerId: string
  readonly multiaddrs: readonly string[]
  readonly peers: readonly string[]
  peerInfo (): Array<{ peerId: string, addresses: string[] }>
  put (key: string, value: Uint8Array, opts?: PutOptions): Promise<PutReceipt>
  get (key: string, opts?: AbortOptions): Promise<Entry | undefined>
  /** When present, `GET` uses it and answers within the request event (no promise). */
  getSync? (key: string): Entry | undefined
  /** When present, `GET` keeps its answers for keys read again and re-checks them with it (see `RepramNode.isCurrent`). */
  isCurrent? (entry: Entry): boolean
  delete (key: string, opts?: AbortOptions): Promise<boolean>
  keys (opts?: KeysOptions): string[]
  watch (opts?: WatchOptions): AsyncIterable<Change>
  stats (): NodeStats
}

export interface HttpOptions {
  /**
   * How many other nodes must confirm a write for `PUT` to answer `201`.
   * With fewer confirmations within `writeTimeout` it answers `202` (the
   * value is stored locally and keeps replicating). `0` answers `201` as
   * soon as the value is stored locally.
   * @default 1
   */
  writeQuorum?: number
  /** How long a `PUT` waits for `writeQuorum` confirmations, ms; at most 600000. @default 2000 */
  writeTimeout?: number
  /**
   * Per-client token bucket, keyed by the remote address: `burst` requests at
   * once, `requestsPerSecond` on average; beyond it `429` with `Retry-After`.
   * CORS preflights are not counted. `false` turns it off (e.g. behind a
   * proxy that limits already, where every client shares one address).
   * @default { requestsPerSecond: 100, burst: 200 }
   */
  rateLimit?: RateLimitOptions | false
  /**
   * Origins allowed by CORS: `'*'`, one origin, or a list (the request's
   * `Origin` is echoed when listed). `false` sends no CORS headers.
   * @default '*'
   */
  cors?: string | readonly string[] | false
  /** Largest request body, bytes, counted as it arrives; beyond it `413`. @default the node's `maxValueBytes` */
  maxBodyBytes?: number
  /** Period of the keep-alive comments on `/v1/watch` streams, ms. @default 15000 */
  watchKeepAlive?: number
  /** Values up to this many bytes are included in `/v1/watch` `set` events. @default 65536 */
  watchValueMaxBytes?: number
  /**
   * Aborting it ends open `/v1/watch` streams (which otherwise keep a server
   * from closing). `createHttpServer` and `startHttpServer` do this when closed.
   */
  signal?: AbortSignal
}

export interface StartHttpServerOptions extends HttpOptions {
  /** TCP port; `0` picks a free one (see `url`). @default 0 */
  port?: number
  /** Address to listen on. Serving other hosts (`'0.0.0.0'`, `'::'`) is an explicit choice. @default '127.0.0.1' */
  host?: string
  /** Aborting it closes the server (ending watch streams), as `close()` does. */
  signal?: AbortSignal
}

export interface StartedHttpServer {
  /** Base URL, e.g. `http://127.0.0.1:41235` (a wildcard host is shown as loopback). */
  url: string
  server: Server
  /** Stops accepting connections, ends watch streams, and resolves once every connection is closed. Idempotent. */
  close (): Promise<void>
}

/**
 * A request handler. As express-style middleware, a request for a path the
 * API does not know is passed to `next` when given (else answered `404`).
 * Mount it before any body parser: it reads request bodies itself.
 */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void

/**
 * A request handler serving `node`, for an existing `node:http` server or an
 * express-style app. Validates `options` at once (`InvalidConfigError`).
 */
export function createHttpHandler (node: HttpNode, options: HttpOptions = {}): HttpHandler {
  return createHandler(node, options)
}

/**
 * An `http.Server` serving `node`, not yet listening. Its `close()` also
 * ends open watch streams, so it does not wait for them.
 */
export function createHttpServer (node: HttpNode, options: HttpOptions = {}): Server {
  const shutdown = new AbortController()
  const signal = options.signal === undefined ? shutdown.signal : AbortSignal.any([shutdown.signal, options.signal])
  return new RepramHttpServer(createHandler(node, { ...options, signal }), shutdown)
}

/**
 * Starts an HTTP server for `node` on `host:port` (default `127.0.0.1`, a
 * free port). Rejects if it cannot listen, or with `AbortError` when `signal`
 * is already aborted.
 */
export async function startHttpServer (node: HttpNode, options: StartHttpServerOptions = {}): Promise<StartedHttpServer> {
  const { port, host, signal, ...rest } = options
  const where = resolveListenOptions(port, host)
  const server = createHttpServer(node, { ...rest, signal })
  return listen(server, { ...where, signal })
}
