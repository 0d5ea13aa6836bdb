/**
 * A thin HTTP client for the client commands. Its job is the error
 * messages: a refused connection, an unknown host or a silent server become
 * one sentence saying what to check, and an HTTP error body
 * (`{ error, message }`) becomes the server's own message.
 *
 * It sends with `node:http(s)` and hands back a WHATWG `Response`: `fetch`
 * refuses the ports on the browsers' block list (6000, 10080, ...), and a
 * node can serve its API on any port.
 */
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { Readable } from 'node:stream'
import { CommandError, UsageError } from './errors.ts'

export interface RequestOptions {
  method?: string
  headers?: Record<string, string>
  body?: Uint8Array
  /** Cancels the request (e.g. on Ctrl-C). */
  signal?: AbortSignal
  /** Gives up when no response arrives in time, ms. Not applied to the body of streaming responses. @default 10000 */
  timeoutMs?: number
}

/** Path of one key in the REPRAM v1 HTTP API. */
export function dataPath (key: string): string {
  // URLs resolve these as path segments (escaped or not) before they are sent.
  if (key === '.' || key === '..') throw new UsageError(`the key ${JSON.stringify(key)} cannot be addressed over HTTP (URLs resolve it as a path segment); use another key`)
  return `/v1/data/${encodeURIComponent(key)}`
}

/**
 * Sends a request to `baseUrl + path`. Resolves with any HTTP response
 * (check `res.ok`); rejects with a `CommandError` when the node cannot be
 * reached, and rethrows the caller's own abort untouched.
 */
export async function request (baseUrl: string, path: string, opts: RequestOptions = {}): Promise<Response> {
  const timeoutMs = opts.timeoutMs ?? 10_000
  const timeout = new AbortController()
  const timer = setTimeout(() => { timeout.abort() }, timeoutMs)
  const signal = opts.signal === undefined ? timeout.signal : AbortSignal.any([opts.signal, timeout.signal])
  try {
    return await send(new URL(baseUrl + path), opts.method ?? 'GET', opts.headers ?? {}, opts.body, signal)
  } catch (err: any) {
    if (opts.signal?.aborted === true) throw err
    const why = timeout.signal.aborted ? `no answer within ${timeoutMs / 1000} s` : describeNetworkError(err)
    throw new CommandError(`cannot reach ${baseUrl} (${why}): is a node running there? pass --url or set REPRAM_URL`, { cause: err })
  } finally {
    clearTimeout(timer)
  }
}

/** One request; resolves once the answer's head is in, its body streaming (and ended by `signal` too). */
function send (url: URL, method: string, headers: Record<string, string>, body: Uint8Array | undefined, signal: AbortSignal): Promise<Response> {
  return new Promise((resolve, reject) => {
    const outgoing = { ...headers, ...(body === undefined ? {} : { 'content-length': String(body.byteLength) }) }
    // A connection of its own (no keep-alive): a short-lived command leaves no socket behind.
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method, headers: outgoing, signal, agent: false }, res => {
      const answer = new Headers()
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) answer.append(res.rawHeaders[i], res.rawHeaders[i + 1])
      const status = res.statusCode ?? 0
      const empty = status === 204 || status === 304 || method === 'HEAD'
      if (empty) res.resume()
      try {
        resolve(new Response(empty ? null : Readable.toWeb(res) as ReadableStream<Uint8Array>, { status, statusText: res.statusMessage, headers: answer }))
      } catch (err) {
        res.destroy()
        reject(err)
      }
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** The low-level reason of a failed request, in words. */
export function describeNetworkError (err: any): string {
  // A socket error, or an AggregateError of the attempts at each of a host's addresses.
  let cause = err
  if (cause?.code === undefined && Array.isArray(cause?.errors) && cause.errors.length > 0) cause = cause.errors[0]
  switch (cause?.code) {
    case 'ECONNREFUSED': return 'connection refused'
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return 'host not found'
    case 'ECONNRESET': return 'connection reset'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH': return 'no route to host'
    case 'ETIMEDOUT': return 'connection timed out'
    default: return String(cause?.code ?? cause?.message ?? err?.message ?? err)
  }
}

/**
 * A `CommandError` for a non-2xx response, using the server's
 * `{ error, message }` body when it has one.
 */
export async function responseError (baseUrl: string, res: Response, what: string): Promise<CommandError> {
  return errorFromBody(baseUrl, res, await bodyText(res), what)
}

/** The answer's body as text; empty when it cannot be read. */
async function bodyText (res: Response): Promise<string> {
  try { return await res.text() } catch { return '' }
}

/** `responseError` for a body already read. */
function errorFromBody (baseUrl: string, res: Response, text: string, what: string): CommandError {
  let detail: string
  try {
    const body = JSON.parse(text)
    detail = typeof body?.message === 'string' ? body.message : typeof body?.error === 'string' ? body.error : text
  } catch {
    detail = text
  }
  detail = detail.trim().split('\n')[0].slice(0, 300)
  const status = `HTTP ${res.status}${res.statusText !== '' ? ' ' + res.statusText : ''}`
  return new CommandError(`${what} failed: ${detail !== '' ? detail : status}${detail !== '' ? ` (${status})` : ''} from ${baseUrl}`)
}

/**
 * The error for a 404 answer to a data request: "not found" when the key
 * is missing, but the server's own message when it says something else was
 * (a wrong `--url` answers `NotFoundError: no such endpoint`).
 */
export async function notFoundError (baseUrl: string, res: Response, key: string, what: string): Promise<CommandError> {
  const text = await bodyText(res)
  let name: unknown
  try { name = JSON.parse(text)?.error } catch {}
  if (name === undefined || name === 'KeyNotFoundError') return new CommandError(`not found: "${key}" (absent, deleted or expired) on ${baseUrl}`)
  return errorFromBody(baseUrl, res, text, what)
}

/** GETs a JSON document; a non-2xx answer or a body that is not JSON is a `CommandError`. */
export async function getJson (baseUrl: string, path: string, opts: RequestOptions = {}): Promise<unknown> {
  const res = await request(baseUrl, path, opts)
  if (!res.ok) throw await responseError(baseUrl, res, `GET ${path}`)
  const text = await res.text()
  try {
    return JSON.parse(text)
  } catch {
    throw new CommandError(`GET ${path} from ${baseUrl} did not return JSON: is that a repram node?`)
  }
}
