/**
 * `/v1/data/{key}`: PUT/POST store the raw body, GET/HEAD return it with its
 * TTL headers, DELETE removes it. Values are passed through as bytes and
 * never logged.
 */
import { InvalidKeyError, InvalidTtlError } from '../errors.ts'
import { readBody } from './body.ts'
import { validateKey } from '../validation.ts'
import { HttpError } from './errors.ts'
import { isoTime, msToSeconds, sendJson } from './respond.ts'
import type { KeptAnswer } from './answers.ts'
import type { RequestContext } from './context.ts'
import type { HttpNode } from './index.ts'
import type { Entry, PutReceipt } from '../types.ts'
import type { OutgoingHttpHeaders } from 'node:http'

/** Percent-decodes the captured key; a malformed escape is an invalid key. */
export function decodeKey (raw: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    throw new InvalidKeyError('the key is not validly percent-encoded UTF-8')
  }
}

const SECONDS_RE = /^\d+(\.\d+)?$/

/**
 * The TTL a client asked for, ms: `?ttl=` or else `X-TTL`, in seconds
 * (fractions allowed); `undefined` when neither is given (an empty `?ttl=`
 * counts as not given). Checked against the node's limits here so the
 * message speaks in seconds, as the client did.
 */
export function parseTtl (query: URLSearchParams, header: string | string[] | undefined, config: HttpNode['config']): number | undefined {
  let raw = query.get('ttl')?.trim()
  if (raw === undefined || raw === '') raw = (Array.isArray(header) ? header.join(', ') : header)?.trim()
  if (raw === undefined || raw === '') return undefined
  if (!SECONDS_RE.test(raw)) throw new InvalidTtlError(`the TTL must be a number of seconds, got ${JSON.stringify(raw.slice(0, 40))}`)
  // Leading zeros and digits past the millisecond are fine: the number is what counts.
  const ttlMs = Math.round(Number(raw) * 1000)
  if (!(ttlMs >= config.minTtl && ttlMs <= config.maxTtl)) {
    throw new InvalidTtlError(`the TTL must be between ${msToSeconds(config.minTtl)} and ${msToSeconds(config.maxTtl)} seconds, got ${raw.length > 40 ? raw.slice(0, 40) + '…' : raw}`)
  }
  return ttlMs
}

export async function putData (ctx: RequestContext): Promise<void> {
  const { node, options, req, param, query, signal } = ctx
  // The key and the TTL are checked before the body is read: a client that
  // sent `Expect: 100-continue` then gets the refusal without uploading.
  const key = validateKey(decodeKey(param), node.config.maxKeyBytes)
  const ttlMs = parseTtl(query, req.headers['x-ttl'], node.config) ?? node.config.defaultTtl
  const value = await readBody(req, options.maxBodyBytes)
  const contentType = req.headers['content-type'] === '' ? undefined : req.headers['content-type']

  // alone, waiting for confirmations could only time out: answer 202 at once
  const quorum = node.peers.length === 0 ? 0 : options.writeQuorum
  let receipt: PutReceipt
  let confirmed: boolean
  try {
    receipt = await node.put(key, value, { ttl: ttlMs, quorum, timeout: options.writeTimeout, contentType, signal })
    confirmed = receipt.confirmations >= options.writeQuorum
  } catch (err) {
    if (!(err instanceof Error) || err.name !== 'QuorumNotReachedError') throw err
    receipt = await receiptAfterTimeout(node, key, (err as Error & { receipt?: Partial<PutReceipt> }).receipt)
    confirmed = false
  }

  sendJson(ctx, confirmed ? 201 : 202, {
    key,
    expires_at: isoTime(receipt.expiresAt),
    version: receipt.version,
    confirmations: receipt.confirmations
  }, {
    'X-TTL': msToSeconds(ttlMs),
    'X-Expires-At': isoTime(receipt.expiresAt)
  })
}

/** The receipt of a write whose quorum timed out (the write itself is stored). */
async function receiptAfterTimeout (node: HttpNode, key: string, partial: Partial<PutReceipt> = {}): Promise<PutReceipt> {
  if (typeof partial.expiresAt === 'number' && typeof partial.version === 'string') {
    return { key, expiresAt: partial.expiresAt, version: partial.version, confirmations: partial.confirmations ?? 0 }
  }
  const entry = await node.get(key)
  if (entry === undefined) throw new HttpError('KeyNotFoundError', 'the write was stored but is already gone (expired or overwritten by a deletion)')
  return { key, expiresAt: entry.expiresAt, version: entry.version, confirmations: partial.confirmations ?? 0 }
}

/** Only a well-formed type is echoed; anything else is served as opaque bytes. */
const CONTENT_TYPE_RE = /^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=("[^"\\\r\n]*"|[\w.+-]+))*$/
const OPAQUE = 'application/octet-stream'
/** Verdicts on stored content types (a store holds few distinct ones): type -> the type to serve. */
const servedTypes = new Map<string, string>()
const SERVED_TYPES_MAX = 256

function servedType (contentType: string | undefined): string {
  if (contentType === undefined) return OPAQUE
  let served = servedTypes.get(contentType)
  if (served === undefined) {
    served = CONTENT_TYPE_RE.test(contentType) ? contentType : OPAQUE
    if (servedTypes.size >= SERVED_TYPES_MAX) servedTypes.clear()
    servedTypes.set(contentType, served)
  }
  return served
}

export function getData (ctx: RequestContext): void | Promise<void> {
  const { node, param, answers } = ctx
  const kept = answers.get(param)
  if (kept !== undefined) {
    // kept only for nodes with isCurrent
    if (node.isCurrent!(kept.entry)) {
      sendEntry(ctx, kept.entry, kept)
      return
    }
    answers.forget(param)
  }
  const key = decodeKey(param)
  // no signal: the read completes before anything could abort it
  if (node.getSync !== undefined) {
    sendEntry(ctx, node.getSync(key))
    return
  }
  return node.get(key).then(entry => { sendEntry(ctx, entry) })
}

/** Answers with `entry`; `kept` is its kept answer, whose headers are sent again when still exact. */
function sendEntry (ctx: RequestContext, entry: Entry | undefined, kept?: KeptAnswer): void {
  if (entry === undefined) throw new HttpError('KeyNotFoundError', 'no live entry under this key')
  const { node, res, headers } = ctx
  const remaining = Math.max(0, Math.floor((entry.expiresAt - node.config.clock()) / 1000))
  let list: ReadonlyArray<string | number>
  if (kept !== undefined && kept.remaining === remaining && kept.cors === headers) {
    list = kept.headers
  } else {
    list = entryHeaders(entry, remaining, headers)
    if (node.isCurrent !== undefined && (kept !== undefined || ctx.answers.admit())) {
      ctx.answers.keep(ctx.param, { entry, cors: headers, remaining, headers: list })
    }
  }
  res.writeHead(200, list as Array<string | number>)
  // for HEAD, Node sends the headers (Content-Length included) and drops the body
  res.end(entry.value)
}

/** The headers of a GET answer, as a flat list: Node takes it without walking an object's keys (the hot path of a GET). */
function entryHeaders (entry: Entry, remaining: number, cors: Readonly<OutgoingHttpHeaders>): Array<string | number> {
  const list: Array<string | number> = [
    'Content-Type', servedType(entry.contentType),
    'Content-Length', entry.value.byteLength,
    'Cache-Control', 'no-store',
    // stored values are untrusted: never let a browser run them as a page of this origin
    'X-Content-Type-Options', 'nosniff',
    'Content-Security-Policy', "default-src 'none'; sandbox",
    'X-Created-At', isoTime(entry.createdAt),
    'X-Expires-At', isoTime(entry.expiresAt),
    'X-Original-TTL', String(Math.round((entry.expiresAt - entry.createdAt) / 1000)),
    'X-Remaining-TTL', String(remaining),
    'X-Version', entry.version
  ]
  for (const name in cors) list.push(name, cors[name] as string)
  return list
}

export async function deleteData ({ node, res, headers, param }: RequestContext): Promise<void> {
  const existed = await node.delete(decodeKey(param))
  if (!existed) throw new HttpError('KeyNotFoundError', 'no live entry under this key here: nothing was deleted')
  res.writeHead(204, headers)
  res.end()
}
