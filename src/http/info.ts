/** Read-only views of the node: health, status, topology and key listing. */
import { createRequire } from 'node:module'
import { NotStartedError } from '../errors.ts'
import { HttpError } from './errors.ts'
import { msToSeconds, sendJson } from './respond.ts'
import type { RequestContext } from './context.ts'

let packageVersion: string | undefined

/** The package's version, read once from its package.json (`'unknown'` when bundled without it). */
function version (): string {
  if (packageVersion === undefined) {
    try {
      // src/http/ and dist/http/ both sit two levels below the package root
      packageVersion = String((createRequire(import.meta.url)('../../package.json') as { version?: unknown }).version ?? 'unknown')
    } catch {
      packageVersion = 'unknown'
    }
  }
  return packageVersion
}

export function health (ctx: RequestContext): void {
  const { node } = ctx
  if (!node.started) {
    sendJson(ctx, 503, { status: 'stopped', network: node.config.network })
    return
  }
  sendJson(ctx, 200, { status: 'ok', peer_id: node.peerId, network: node.config.network, peers: node.peers.length })
}

export function status (ctx: RequestContext): void {
  const { node } = ctx
  if (!node.started) throw new NotStartedError()
  const stats = node.stats()
  const { config } = node
  sendJson(ctx, 200, {
    status: 'ok',
    peer_id: node.peerId,
    network: config.network,
    addresses: node.multiaddrs,
    peers: stats.peers,
    entries: stats.entries,
    bytes: stats.bytes,
    tombstones: stats.tombstones,
    uptime_seconds: Math.floor(stats.uptimeMs / 1000),
    version: version(),
    limits: {
      default_ttl: Number(msToSeconds(config.defaultTtl)),
      min_ttl: Number(msToSeconds(config.minTtl)),
      max_ttl: Number(msToSeconds(config.maxTtl)),
      max_value_bytes: config.maxValueBytes
    }
  })
}

export function topology (ctx: RequestContext): void {
  const { node } = ctx
  if (!node.started) throw new NotStartedError()
  sendJson(ctx, 200, {
    peer_id: node.peerId,
    network: node.config.network,
    addresses: node.multiaddrs,
    peers: node.peerInfo().map(p => ({ peer_id: p.peerId, addresses: p.addresses }))
  })
}

export const KEYS_DEFAULT_LIMIT = 1000
export const KEYS_MAX_LIMIT = 10_000
const CURSOR_RE = /^[A-Za-z0-9_-]+$/

/**
 * One page of live keys. The cursor is the page's last key, base64url
 * encoded: clients pass it back as they got it, and a key written between
 * two pages is listed when it sorts after the cursor.
 */
export function keys (ctx: RequestContext): void {
  const { node, query } = ctx
  if (!node.started) throw new NotStartedError() // like every other data route: a stopped node serves nothing
  const prefix = query.get('prefix') ?? ''
  const rawLimit = query.get('limit')
  let limit = KEYS_DEFAULT_LIMIT
  if (rawLimit !== null && rawLimit !== '') {
    limit = Number(rawLimit)
    if (!/^\d+$/.test(rawLimit) || limit < 1 || limit > KEYS_MAX_LIMIT) {
      throw new HttpError('InvalidParameterError', `limit must be an integer from 1 to ${KEYS_MAX_LIMIT}`)
    }
  }
  const cursor = query.get('cursor') ?? ''
  if (cursor !== '' && !CURSOR_RE.test(cursor)) throw new HttpError('InvalidParameterError', 'cursor must be a next_cursor returned by this endpoint')

  // One more than the page, to tell whether another page follows.
  const found = node.keys({ prefix: prefix === '' ? undefined : prefix, after: cursor === '' ? undefined : Buffer.from(cursor, 'base64url').toString('utf8'), limit: limit + 1 })
  const more = found.length > limit
  const page = more ? found.slice(0, limit) : found
  sendJson(ctx, 200, {
    keys: page,
    next_cursor: more ? Buffer.from(page[page.length - 1], 'utf8').toString('base64url') : null
  })
}
