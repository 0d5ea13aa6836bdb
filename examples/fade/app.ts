/**
 * The fade request handler: one node:http handler that serves the web
 * client, the fade endpoints, and mounts the REPRAM HTTP adapter for
 * `/v1/*`.
 *
 * - `POST /fade/posts` `{text, callsign?, ttl?}` (ttl in seconds): the only
 *   way to write a post through this node. It checks the post's rules,
 *   limits the rate per client address, picks the time-sortable key and
 *   stores the JSON with `node.put`.
 * - `GET /fade/config`: limits and TTL bounds, for the page's form.
 * - `GET /fade/events`: Server-Sent Events, event `status` with this node's
 *   peers, sent at once and on every peer join or leave.
 * - `/v1/*` (and the adapter's `/data/*`, `/health` aliases): the REPRAM API,
 *   unchanged, except that writes to `fade/` keys are refused there (they
 *   would skip the post rules; see `guardPostKeys`).
 *
 * No request a page of another site makes a browser send may write (see
 * `fromOtherSite`): CORS is off, so such pages cannot read answers, but a
 * simple cross-site POST would still be carried out.
 *
 * Errors are JSON `{error, message}` like the adapter's, with messages meant
 * to be shown to the person posting.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { RepramNode } from '../../src/index.ts'
import {
  checkPost, encodePost, newPostKey, MAX_CALLSIGN_CHARS, MAX_TEXT_CHARS, POST_CONTENT_TYPE, POST_PREFIX
} from './posts.ts'
import { PostRateLimiter } from './rate-limit.ts'
import { createStaticHandler } from './static.ts'

type Handler = (req: IncomingMessage, res: ServerResponse) => void
/** The REPRAM adapter as middleware: it calls `next` for paths it does not know. */
type ApiHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void

export interface FadeAppInit {
  node: RepramNode
  /** The REPRAM HTTP adapter (`createHttpHandler`), answering `/v1/*` and its aliases. */
  api: ApiHandler
  /** Folder of the web client. */
  publicDir: string
  /** Posts per minute per client address. */
  postsPerMinute: number
  /** Time source, epoch ms. @default Date.now */
  clock?: () => number
}

export interface FadeApp {
  handle: Handler
  /** Ends the open event streams; call before closing the server. */
  close: () => void
}

/** Largest request body of `POST /fade/posts`: 280 code points fit many times over, even \u-escaped. */
const MAX_BODY_BYTES = 16 * 1024
/** SSE comment sent this often so proxies and browsers keep idle streams open. */
const HEARTBEAT_MS = 20_000

function sendJson (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers
  })
  res.end(text)
}

function sendError (res: ServerResponse, status: number, error: string, message: string, headers?: Record<string, string>): void {
  sendJson(res, status, { error, message }, headers)
}

/** Reads the body up to `limit` bytes; resolves `undefined` when it is larger. */
async function readBody (req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) return undefined
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

function formatSeconds (ms: number): string {
  const s = ms / 1000
  if (s < 120) return `${+s.toFixed(3)} s`
  if (s < 7200) return `${Math.round(s / 60)} min`
  if (s < 172_800) return `${Math.round(s / 3600)} h`
  return `${Math.round(s / 86_400)} days`
}

/**
 * `node` as fade's REPRAM API sees it: a put or delete of a `fade/` key is
 * refused (403 `ForbiddenError`), since it would skip the post rules. The
 * check is on the key the API decoded, whatever path, escaping or dot
 * segments named it in the URL.
 */
export function guardPostKeys (node: RepramNode): RepramNode {
  const refuse = (key: unknown): void => {
    if (typeof key !== 'string' || !key.startsWith(POST_PREFIX)) return
    const err = new Error('Keys under fade/ are written through POST /fade/posts, which checks the post rules.')
    err.name = 'ForbiddenError'
    throw err
  }
  const put: RepramNode['put'] = async (key, ...rest) => { refuse(key); return await node.put(key, ...rest) }
  const del: RepramNode['delete'] = async (key, ...rest) => { refuse(key); return await node.delete(key, ...rest) }
  return new Proxy(node, {
    get (target, prop) {
      if (prop === 'put') return put
      if (prop === 'delete') return del
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}

/**
 * Whether a browser sent `req` from another site's page. Such a page can
 * make a browser send a simple POST (no preflight) that CORS does not stop,
 * only its answer; fade refuses them from writing anything. Browsers say
 * where a request comes from in `Sec-Fetch-Site`, older ones in `Origin`.
 */
function fromOtherSite (req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site']
  if (site !== undefined) return site !== 'same-origin' && site !== 'none'
  const origin = req.headers.origin
  if (origin === undefined) return false // not sent by a page: curl, the CLI, another program
  const host = req.headers.host
  return origin !== `http://${host}` && origin !== `https://${host}` // an opaque origin is "null"
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

export function createFadeApp (init: FadeAppInit): FadeApp {
  const { node, api } = init
  const clock = init.clock ?? Date.now
  const serveStatic = createStaticHandler(init.publicDir)
  const limiter = new PostRateLimiter({ perMinute: init.postsPerMinute, clock })
  const streams = new Set<ServerResponse>()
  let heartbeat: ReturnType<typeof setInterval> | undefined

  function status (): unknown {
    const peers = node.peerInfo().map(p => ({ peer_id: p.peerId, addresses: p.addresses }))
    return { peer_id: node.peerId, network: node.config.network, peers }
  }

  function broadcastStatus (): void {
    if (streams.size === 0) return
    const frame = `event: status\ndata: ${JSON.stringify(status())}\n\n`
    for (const res of streams) res.write(frame)
  }

  node.addEventListener('peer:join', broadcastStatus)
  node.addEventListener('peer:leave', broadcastStatus)

  function openEvents (req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no'
    })
    res.write(`retry: 2000\nevent: status\ndata: ${JSON.stringify(status())}\n\n`)
    streams.add(res)
    heartbeat ??= setInterval(() => {
      for (const stream of streams) stream.write(': ping\n\n')
    }, HEARTBEAT_MS)
    heartbeat.unref()
    const forget = (): void => {
      streams.delete(res)
      if (streams.size === 0 && heartbeat !== undefined) {
        clearInterval(heartbeat)
        heartbeat = undefined
      }
    }
    req.on('close', forget)
    res.on('error', forget)
  }

  function sendConfig (res: ServerResponse): void {
    const { minTtl, maxTtl, defaultTtl, network } = node.config
    sendJson(res, 200, {
      network,
      peer_id: node.peerId,
      max_text_chars: MAX_TEXT_CHARS,
      max_callsign_chars: MAX_CALLSIGN_CHARS,
      // TTLs in seconds, as everywhere in the HTTP API.
      min_ttl: minTtl / 1000,
      max_ttl: maxTtl / 1000,
      default_ttl: defaultTtl / 1000,
      posts_per_minute: init.postsPerMinute,
      // Lets the page count down against this node's clock, not the viewer's.
      server_time: new Date(clock()).toISOString()
    })
  }

  async function createPost (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const type = req.headers['content-type'] ?? ''
    // Requiring JSON also makes cross-site pages preflight, which we never allow.
    if (!/^application\/json\b/i.test(type)) {
      sendError(res, 415, 'UnsupportedMediaTypeError', 'Send the post as JSON (Content-Type: application/json).')
      return
    }
    const body = await readBody(req, MAX_BODY_BYTES)
    if (body === undefined) {
      sendError(res, 413, 'ValueTooLargeError', `The request is larger than ${MAX_BODY_BYTES} bytes.`)
      return
    }
    let input: unknown
    try {
      input = JSON.parse(body.toString('utf8'))
    } catch {
      sendError(res, 400, 'InvalidJsonError', 'The request body is not valid JSON.')
      return
    }
    const check = checkPost(input)
    if (!check.ok) {
      sendError(res, 400, check.refusal.error, check.refusal.message)
      return
    }
    const ttl = check.ttlSeconds === undefined ? undefined : Math.round(check.ttlSeconds * 1000)
    if (ttl !== undefined && (ttl < node.config.minTtl || ttl > node.config.maxTtl)) {
      refuseTtl(res)
      return
    }
    // Counted after the checks: fixing a refused post costs no extra wait.
    const retryAfter = limiter.take(req.socket.remoteAddress ?? 'unknown')
    if (retryAfter > 0) {
      sendError(res, 429, 'RateLimitedError', `You are posting too fast: this node takes ${init.postsPerMinute} posts a minute from one address. Try again in ${retryAfter} s.`, { 'retry-after': String(retryAfter) })
      return
    }
    const key = newPostKey(clock())
    try {
      const receipt = await node.put(key, encodePost(check.post), { ttl, contentType: POST_CONTENT_TYPE })
      // The version's first part is the write's physical time (see Entry.version).
      const createdAt = Number.parseInt(receipt.version, 10)
      sendJson(res, 201, {
        key,
        text: check.post.text,
        callsign: check.post.callsign,
        created_at: new Date(Number.isFinite(createdAt) ? createdAt : clock()).toISOString(),
        expires_at: new Date(receipt.expiresAt).toISOString(),
        version: receipt.version,
        confirmations: receipt.confirmations
      })
    } catch (err) {
      const name = (err as Error).name
      if (name === 'InvalidTtlError') {
        refuseTtl(res)
      } else if (name === 'StoreFullError') {
        sendError(res, 507, 'StoreFullError', 'This node is full and cannot take more posts right now. Try a shorter lifetime later, when older posts have faded.')
      } else if (name === 'ValueTooLargeError') {
        sendError(res, 413, 'ValueTooLargeError', 'The post is larger than this node stores.')
      } else if (name === 'NotStartedError') {
        sendError(res, 503, 'NotStartedError', 'This node is shutting down.')
      } else {
        sendError(res, 500, 'InternalError', 'The post could not be stored.')
      }
    }
  }

  function refuseTtl (res: ServerResponse): void {
    const { minTtl, maxTtl } = node.config
    sendError(res, 400, 'InvalidTtlError', `This node keeps posts between ${formatSeconds(minTtl)} and ${formatSeconds(maxTtl)}; choose a lifetime in that range.`)
  }

  function handle (req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? 'GET'
    if (!SAFE_METHODS.has(method) && fromOtherSite(req)) {
      sendError(res, 403, 'ForbiddenError', 'Pages of other sites may not write to this node.')
      return
    }
    let pathname: string
    try {
      pathname = new URL(req.url ?? '/', 'http://fade.invalid').pathname
    } catch {
      sendError(res, 400, 'InvalidParameterError', 'The request URL is not valid.')
      return
    }

    if (pathname === '/fade/posts') {
      if (method !== 'POST') {
        sendError(res, 405, 'MethodNotAllowedError', 'Use POST to create a post.', { allow: 'POST' })
        return
      }
      createPost(req, res).catch(() => {
        if (!res.headersSent) sendError(res, 500, 'InternalError', 'The post could not be stored.')
        else res.destroy()
      })
      return
    }
    if (pathname === '/fade/config' && (method === 'GET' || method === 'HEAD')) {
      sendConfig(res)
      return
    }
    if (pathname === '/fade/events' && method === 'GET') {
      openEvents(req, res)
      return
    }
    if (serveStatic(req, res, pathname)) return
    api(req, res, () => {
      sendError(res, 404, 'NotFoundError', `Nothing at ${pathname}.`)
    })
  }

  function close (): void {
    node.removeEventListener('peer:join', broadcastStatus)
    node.removeEventListener('peer:leave', broadcastStatus)
    if (heartbeat !== undefined) clearInterval(heartbeat)
    heartbeat = undefined
    for (const res of streams) res.end()
    streams.clear()
  }

  return { handle, close }
}
