/**
 * GET answers kept for keys read again (src/http/answers.ts), on a real node
 * and server with an injected clock: a kept answer is sent again only while
 * the entry is current, and its TTL headers follow the clock.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ADMIT_EVERY } from '../../src/http/answers.ts'
import { startHttpServer } from '../../src/http/index.ts'
import { serveNode, type Served } from './helpers.ts'

let now = Date.now()
let s: Served
let checks = 0

test.before(async () => {
  s = await serveNode({ clock: () => now, defaultTtl: 60_000, minTtl: 1000 }, { cors: '*' })
  // count the re-checks the adapter makes of kept answers
  const isCurrent = s.node.isCurrent.bind(s.node)
  s.node.isCurrent = entry => { checks++; return isCurrent(entry) }
})
test.after(async () => { await s?.stop() })

const get = async (key: string, init?: RequestInit): Promise<Response> => fetch(`${s.url}/v1/data/${encodeURIComponent(key)}`, init)
const put = async (key: string, body: string, ttlSeconds = 60): Promise<Response> =>
  fetch(`${s.url}/v1/data/${encodeURIComponent(key)}`, { method: 'PUT', headers: { 'X-TTL': String(ttlSeconds), 'Content-Type': 'text/plain' }, body })

/**
 * Reads `key` until its answer is kept (one fresh read in ADMIT_EVERY is):
 * the read that re-checks a kept answer instead of reading afresh. Returns it.
 */
async function readUntilKept (key: string): Promise<Response> {
  for (let i = 0; i <= ADMIT_EVERY; i++) {
    const before = checks
    const res = await get(key)
    if (checks > before) return res
    await res.arrayBuffer()
  }
  throw new Error(`no answer of ${key} was kept after ${ADMIT_EVERY + 1} reads`)
}

/** Headers Node sets per response or connection, not per answer. */
const TRANSPORT = new Set(['date', 'connection', 'keep-alive'])

/** The headers of an answer, as a test compares them. */
function headersOf (res: Response): Record<string, string> {
  const out: Record<string, string> = {}
  res.headers.forEach((value, name) => { if (!TRANSPORT.has(name)) out[name] = value })
  return out
}

test('a key read again is answered the same, after one cheap re-check instead of a read', async () => {
  await put('board/a', 'first')
  const one = await get('board/a')
  const two = await readUntilKept('board/a')
  const before = checks
  const three = await get('board/a')
  assert.is(checks, before + 1, 'the kept answer was re-checked once')
  assert.is(await one.text(), 'first')
  assert.is(await two.text(), 'first')
  assert.is(await three.text(), 'first')
  assert.equal(headersOf(two), headersOf(one))
  assert.equal(headersOf(three), headersOf(one))
  const head = await get('board/a', { method: 'HEAD' })
  assert.is(head.status, 200)
  assert.is(await head.text(), '')
  assert.equal(headersOf(head), headersOf(one))
})

test('an overwrite, a delete or the expiry is seen at once: a stale kept answer is never sent', async () => {
  await put('drop', 'v1')
  assert.is(await (await readUntilKept('drop')).text(), 'v1')

  const written = await (await put('drop', 'v2')).json() as { version: string }
  const after = await get('drop')
  assert.is(await after.text(), 'v2')
  assert.is(after.headers.get('x-version'), written.version)
  assert.is(await (await readUntilKept('drop')).text(), 'v2')

  assert.is((await fetch(`${s.url}/v1/data/drop`, { method: 'DELETE' })).status, 204)
  assert.is((await get('drop')).status, 404)

  await put('drop', 'v3', 5)
  assert.is(await (await readUntilKept('drop')).text(), 'v3')
  now += 5000
  assert.is((await get('drop')).status, 404, 'expired: the clock passed expiresAt')
})

test('X-Remaining-TTL follows the clock while the rest of a kept answer stays', async () => {
  await put('ticking', 'tick', 100)
  const first = await readUntilKept('ticking')
  assert.is(first.headers.get('x-remaining-ttl'), '100')
  now += 1500
  const before = checks
  const later = await get('ticking')
  assert.is(checks, before + 1, 'answered from the kept answer')
  assert.is(later.headers.get('x-remaining-ttl'), '98')
  const { 'x-remaining-ttl': _a, ...restFirst } = headersOf(first)
  const { 'x-remaining-ttl': _b, ...restLater } = headersOf(later)
  assert.equal(restLater, restFirst)
  assert.is(await later.text(), 'tick')
})

test('keys spelled differently in the path are the same entry, each answered correctly', async () => {
  await put('a b/c', 'spaced')
  for (const path of ['a%20b%2Fc', 'a%20b/c', 'a b/c'.replace(' ', '%20')]) {
    for (let i = 0; i <= ADMIT_EVERY; i++) {
      const res = await fetch(`${s.url}/v1/data/${path}`)
      assert.is(res.status, 200, path)
      assert.is(await res.text(), 'spaced', path)
    }
  }
  await put('a b/c', 'changed')
  assert.is(await (await fetch(`${s.url}/v1/data/a%20b/c`)).text(), 'changed')
})

test('the CORS headers are those of each request, not of the one whose answer was kept', async () => {
  const http = await startHttpServer(s.node, { rateLimit: false, cors: ['http://a.example', 'http://b.example'] })
  try {
    await put('shared', 'x')
    const read = async (origin?: string): Promise<string | null> => {
      const res = await fetch(`${http.url}/v1/data/shared`, { headers: origin === undefined ? {} : { Origin: origin } })
      assert.is(await res.text(), 'x')
      return res.headers.get('access-control-allow-origin')
    }
    for (let i = 0; i <= ADMIT_EVERY; i++) assert.is(await read('http://a.example'), 'http://a.example')
    assert.is(await read('http://b.example'), 'http://b.example')
    assert.is(await read('http://evil.example'), null)
    assert.is(await read(), null)
    assert.is(await read('http://a.example'), 'http://a.example')
  } finally {
    await http.close()
  }
})

test('many keys read in turn: every answer right, whatever the cache holds', async () => {
  const n = 300 // more than the cache keeps
  for (let i = 0; i < n; i++) await put(`many/${i}`, `value ${i}`)
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < n; i++) {
      const res = await get(`many/${i}`)
      assert.is(await res.text(), `value ${i}`)
    }
  }
})

// last: it stops the node
test('once the node is stopped, a key with a kept answer answers 503 like any other', async () => {
  await put('before-stop', 'x')
  assert.is((await readUntilKept('before-stop')).status, 200)
  await s.node.stop()
  for (const key of ['before-stop', 'never-read']) {
    const res = await get(key)
    assert.is(res.status, 503, key)
    assert.is((await res.json() as { error: string }).error, 'NotStartedError')
  }
})

test.run()
