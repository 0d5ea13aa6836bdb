/**
 * `repram put | get | delete | keys`: one request each (keys pages through
 * all) against a node's HTTP API.
 */
import { parseCommandLine, parseDurationMs, stringSetting, urlSettings, parseInteger } from '../args.ts'
import { CommandError, UsageError, EXIT } from '../errors.ts'
import { formatDuration, parseTime } from '../format.ts'
import { dataPath, request, responseError, notFoundError, getJson } from '../http-client.ts'
import { validateContentType } from '../../validation.ts'
import { KEYS_MAX_LIMIT } from '../../http/info.ts'
import { textOrBase64 } from '../../util/utf8.ts'
import type { Env, FlagValues } from '../args.ts'
import type { ParseArgsOptionsConfig } from 'node:util'

const URL_FLAG: ParseArgsOptionsConfig = {
  url: { type: 'string', short: 'u', multiple: true },
  timeout: { type: 'string' }
}

const URL_HELP = `  -u, --url URL         node HTTP API (env REPRAM_URL) [default: http://127.0.0.1:8080]
      --timeout S       give up after S seconds without an answer [default: 10]
  -h, --help            show this help`

export const PUT_HELP = `Usage: repram put KEY [VALUE | -] [options]

Stores VALUE under KEY on the node at --url, which replicates it. Without
VALUE, or with -, the value is read from stdin (any bytes). A VALUE that
starts with - goes last, after --:  repram put --ttl 60 KEY -- -5

Options:
  -t, --ttl S           time to live in seconds (or 1500ms, 30s, 5m, 2h, 7d),
                        within the node's limits (1 s to 7 d unless it was
                        started with others) [default: the node's default TTL]
  -c, --content-type T  MIME type stored with the value
      --json            print the server's answer as JSON
${URL_HELP}

Prints whether the write was confirmed by other nodes (HTTP 201) or is
stored on that node and still replicating (HTTP 202); both exit 0.

Examples:
  repram put greeting hello --ttl 60
  date | repram put now - --ttl 5m`

export const GET_HELP = `Usage: repram get KEY [options]

Writes the value of KEY, as raw bytes, to stdout. Exits 1 when KEY is absent
(never stored, deleted or expired).

Options:
      --json            print { key, value, encoding, contentType, expiresAt,
                        remainingTtl } as JSON: value as UTF-8 text
                        ("encoding":"utf8") or base64 ("encoding":"base64"),
                        expiresAt as ISO 8601, remainingTtl in seconds
${URL_HELP}`

export const DELETE_HELP = `Usage: repram delete KEY [options]

Deletes KEY on every node. Exits 1 when the node did not have KEY.

Options:
${URL_HELP}`

export const KEYS_HELP = `Usage: repram keys [options]

Lists the live keys of the node, one per line, sorted, paging through all.

Options:
  -p, --prefix P        only keys starting with P
      --page-size N     keys per request, 1 to 10000 [default: 10000]
      --json            print one JSON array
${URL_HELP}`

function clientBase (command: string, values: FlagValues, env: Env): { url: string, timeoutMs: number } {
  const urls = urlSettings(values, env)
  if (urls.length > 1) throw new UsageError(`${command} talks to one node: give one --url`, command)
  const timeout = stringSetting(values, 'timeout', {}, [])
  return { url: urls[0], timeoutMs: timeout === undefined ? 10_000 : parseDurationMs(timeout, 1) }
}

function requireKey (command: string, key: string | undefined): string {
  if (key === undefined || key === '') throw new UsageError('missing KEY', command)
  return key
}

async function readStdin (): Promise<Uint8Array> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

export async function runPut (argv: string[], env: Env): Promise<number> {
  const { values, positionals } = parseCommandLine('put', argv, {
    ...URL_FLAG,
    ttl: { type: 'string', short: 't' },
    'content-type': { type: 'string', short: 'c' },
    json: { type: 'boolean' }
  }, 2)
  if (values.help === true) { process.stdout.write(PUT_HELP + '\n'); return EXIT.ok }
  const key = requireKey('put', positionals[0])
  const { url, timeoutMs } = clientBase('put', values, env)
  const headers: Record<string, string> = {}
  const ttl = stringSetting(values, 'ttl', {}, [])
  if (ttl !== undefined) {
    // X-TTL is seconds in the REPRAM v1 API (fractions allowed).
    headers['x-ttl'] = String(parseDurationMs(ttl, 1) / 1000)
  }
  const contentType = stringSetting(values, 'content-type', {}, [])
  if (contentType !== undefined) {
    // Checked here, as the node checks it: fetch refuses a header it cannot send, which would read as an unreachable node.
    try {
      validateContentType(contentType.value)
    } catch {
      throw new UsageError(`${contentType.source}: expected 1-256 printable ASCII characters, got ${JSON.stringify(contentType.value)}`, 'put')
    }
    headers['content-type'] = contentType.value
  }

  let body: Uint8Array
  if (positionals[1] === undefined || positionals[1] === '-') {
    if (process.stdin.isTTY === true) throw new UsageError('missing VALUE: give it as an argument, or pipe it on stdin', 'put')
    body = await readStdin()
  } else {
    body = new TextEncoder().encode(positionals[1])
  }

  const res = await request(url, dataPath(key), { method: 'PUT', headers, body, timeoutMs })
  if (!res.ok) throw await responseError(url, res, `put "${key}"`)
  const text = await res.text()
  if (values.json === true) {
    process.stdout.write((text.trim() === '' ? JSON.stringify({ status: res.status }) : text.trim()) + '\n')
    return EXIT.ok
  }
  let answer: Record<string, unknown> = {}
  try { answer = JSON.parse(text) } catch {}
  const expiresAt = parseTime(answer.expires_at ?? answer.expiresAt ?? res.headers.get('x-expires-at'))
  const expires = expiresAt !== undefined ? `, expires in ${formatDuration(expiresAt - Date.now())}` : ''
  const confirmations = Number(answer.confirmations ?? NaN)
  const how = res.status === 202
    ? 'stored on that node; no other node confirmed it yet (it keeps replicating to peers)'
    : Number.isFinite(confirmations) ? `stored, confirmed by ${confirmations} other node${confirmations === 1 ? '' : 's'}` : 'stored'
  process.stdout.write(`${key}: ${how}${expires}\n`)
  return EXIT.ok
}

export async function runGet (argv: string[], env: Env): Promise<number> {
  const { values, positionals } = parseCommandLine('get', argv, { ...URL_FLAG, json: { type: 'boolean' } }, 1)
  if (values.help === true) { process.stdout.write(GET_HELP + '\n'); return EXIT.ok }
  const key = requireKey('get', positionals[0])
  const { url, timeoutMs } = clientBase('get', values, env)
  const res = await request(url, dataPath(key), { timeoutMs })
  if (res.status === 404) throw await notFoundError(url, res, key, `get "${key}"`)
  if (!res.ok) throw await responseError(url, res, `get "${key}"`)
  const value = new Uint8Array(await res.arrayBuffer())
  if (values.json === true) {
    const out: Record<string, unknown> = { key, ...textOrBase64(value) }
    const type = res.headers.get('content-type')
    if (type !== null) out.contentType = type
    const expiresAt = parseTime(res.headers.get('x-expires-at'))
    if (expiresAt !== undefined) out.expiresAt = new Date(expiresAt).toISOString()
    const remaining = res.headers.get('x-remaining-ttl')
    if (remaining !== null && Number.isFinite(Number(remaining))) out.remainingTtl = Number(remaining)
    process.stdout.write(JSON.stringify(out) + '\n')
    return EXIT.ok
  }
  process.stdout.write(value)
  return EXIT.ok
}

export async function runDelete (argv: string[], env: Env): Promise<number> {
  const { values, positionals } = parseCommandLine('delete', argv, URL_FLAG, 1)
  if (values.help === true) { process.stdout.write(DELETE_HELP + '\n'); return EXIT.ok }
  const key = requireKey('delete', positionals[0])
  const { url, timeoutMs } = clientBase('delete', values, env)
  const res = await request(url, dataPath(key), { method: 'DELETE', timeoutMs })
  if (res.status === 404) throw await notFoundError(url, res, key, `delete "${key}"`)
  if (!res.ok) throw await responseError(url, res, `delete "${key}"`)
  await res.body?.cancel()
  process.stdout.write(`${key}: deleted\n`)
  return EXIT.ok
}

/** Pages beyond this many are taken as a server that never ends its cursor chain. */
const MAX_PAGES = 100_000

export async function runKeys (argv: string[], env: Env): Promise<number> {
  const { values } = parseCommandLine('keys', argv, {
    ...URL_FLAG,
    prefix: { type: 'string', short: 'p' },
    'page-size': { type: 'string' },
    json: { type: 'boolean' }
  })
  if (values.help === true) { process.stdout.write(KEYS_HELP + '\n'); return EXIT.ok }
  const { url, timeoutMs } = clientBase('keys', values, env)
  const pageSize = stringSetting(values, 'page-size', {}, [])
  // Big pages: each costs the node one pass over its keys, whatever its size.
  const limit = pageSize === undefined ? KEYS_MAX_LIMIT : parseInteger(pageSize, 1, KEYS_MAX_LIMIT)
  const prefix = typeof values.prefix === 'string' ? values.prefix : undefined

  const all: string[] = []
  let cursor: string | undefined
  for (let page = 0; ; page++) {
    if (page >= MAX_PAGES) throw new CommandError(`keys: ${url} kept returning more pages; giving up after ${MAX_PAGES}`)
    const query = new URLSearchParams()
    if (prefix !== undefined) query.set('prefix', prefix)
    query.set('limit', String(limit))
    if (cursor !== undefined) query.set('cursor', cursor)
    const qs = query.toString()
    const body = await getJson(url, '/v1/keys' + (qs === '' ? '' : '?' + qs), { timeoutMs }) as { keys?: unknown, next_cursor?: unknown }
    if (!Array.isArray(body?.keys)) throw new CommandError(`keys: ${url} answered without a "keys" list: is that a repram node?`)
    const keys = body.keys.map(String)
    if (values.json === true) all.push(...keys)
    else if (keys.length > 0) process.stdout.write(keys.join('\n') + '\n')
    const next = body.next_cursor
    if (next === null || next === undefined || next === '') break
    if (String(next) === cursor) throw new CommandError(`keys: ${url} returned the same cursor twice`)
    cursor = String(next)
  }
  if (values.json === true) process.stdout.write(JSON.stringify(all) + '\n')
  return EXIT.ok
}
