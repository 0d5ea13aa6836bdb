/**
 * The fade server over real HTTP, as separate processes on loopback (mDNS
 * off): static client and its headers, the post rules at POST /fade/posts,
 * writes to fade/ keys refused on the raw API, the rate limit, the status
 * stream following peers, replication between two servers, a clean
 * exit on SIGTERM with streams open, and `npm run fade` stopping with npm.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { FADE_SERVER, getJson, postFade, startFade } from './fade-process.ts'
import type { FadeProcess } from './fade-process.ts'
import { killMarked, markedPids, runNpmScript } from '../helpers/npm-script.ts'
import { waitFor } from '../helpers/wait.ts'

const LOOPBACK = ['--port', '0', '--listen', '/ip4/127.0.0.1/tcp/0']

let a: FadeProcess | undefined
let b: FadeProcess | undefined

interface SseEvent { event: string, data: any }

/** Opens an SSE stream; `events` fills as they arrive; `close()` ends it. */
function openSse (url: string): { events: SseEvent[], opened: Promise<void>, close: () => void } {
  const controller = new AbortController()
  const events: SseEvent[] = []
  const opened = (async () => {
    const res = await fetch(url, { signal: controller.signal, headers: { accept: 'text/event-stream' } })
    if (!res.ok || res.body === null) throw new Error(`${url}: HTTP ${res.status}`)
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    void (async () => {
      let buffer = ''
      try {
        for (;;) {
          const { value, done } = await reader.read()
          if (done) return
          buffer += value
          let end: number
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const event = /^event: (.*)$/m.exec(frame)?.[1]
            const data = /^data: (.*)$/m.exec(frame)?.[1]
            if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) })
          }
        }
      } catch {
        // aborted by close()
      }
    })()
  })()
  return { events, opened, close: () => controller.abort() }
}

test.before(async () => {
  a = await startFade([...LOOPBACK, '--min-ttl', '1', '--rate-limit', '4'])
})

/** Marks the processes `npm run fade` runs here, to find any left behind. */
const MARKER = `fade-server-test-${process.pid}`

test.after(async () => {
  await Promise.all([a?.stop(), b?.stop()])
  killMarked(MARKER)
})

test('the ready line names the url, the peer id and dialable addresses', () => {
  assert.match(a!.url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
  assert.match(a!.peerId, /^12D3KooW/)
  assert.ok(a!.multiaddrs.length > 0)
  for (const addr of a!.multiaddrs) assert.ok(addr.startsWith('/ip4/127.0.0.1/tcp/') && addr.endsWith(`/p2p/${a!.peerId}`), addr)
})

test('serves the web client with a strict content security policy', async () => {
  const res = await fetch(a!.url)
  assert.is(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', 'text/html')
  const csp = res.headers.get('content-security-policy') ?? ''
  assert.match(csp, "script-src 'self'")
  assert.match(csp, "default-src 'none'")
  assert.is(res.headers.get('x-content-type-options'), 'nosniff')
  assert.match(await res.text(), '<form id="compose"')

  const js = await fetch(new URL('/app.js', a!.url))
  assert.match(js.headers.get('content-type') ?? '', 'text/javascript')
  const css = await fetch(new URL('/style.css', a!.url))
  assert.match(css.headers.get('content-type') ?? '', 'text/css')
})

test('no path reaches outside the client folder', async () => {
  for (const path of ['/../server.ts', '/%2e%2e/server.ts', '/..%2Fserver.ts', '/public/index.html', '/.%2e/.%2e/package.json']) {
    const res = await fetch(new URL(path, a!.url))
    const body = await res.text()
    assert.is(res.status, 404, path)
    assert.not.match(body, 'createFadeApp', path)
  }
})

test('GET /fade/config tells the page its limits and TTL bounds', async () => {
  const config = await getJson(a!.url, '/fade/config')
  assert.is(config.network, 'fade')
  assert.is(config.peer_id, a!.peerId)
  assert.is(config.max_text_chars, 280)
  assert.is(config.max_callsign_chars, 24)
  assert.is(config.min_ttl, 1)
  assert.is(config.max_ttl, 604800)
  assert.ok(Math.abs(Date.parse(config.server_time) - Date.now()) < 5000)
})

test('a post is stored under a time-sortable fade/ key as JSON', async () => {
  const before = Date.now()
  const { status, body } = await postFade(a!.url, { text: '  kettle is on  ', callsign: 'kestrel', ttl: 120 })
  assert.is(status, 201, JSON.stringify(body))
  assert.match(body.key, /^fade\/\d{14}-[0-9a-f]{8}$/)
  assert.is(body.text, 'kettle is on')
  const created = Number(body.key.slice(5, 19))
  assert.ok(created >= before - 5 && created <= Date.now() + 5, 'the key carries the creation time')
  assert.ok(Math.abs(Date.parse(body.expires_at) - Date.parse(body.created_at) - 120_000) < 1000)

  const res = await fetch(new URL(`/v1/data/${body.key}`, a!.url))
  assert.is(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', 'application/json')
  assert.equal(await res.json(), { text: 'kettle is on', callsign: 'kestrel' })
})

test('refusals are clear JSON errors and store nothing', async () => {
  const keysBefore = (await getJson(a!.url, '/v1/keys?prefix=fade/')).keys.length

  const long = await postFade(a!.url, { text: 'x'.repeat(300) })
  assert.is(long.status, 400)
  assert.is(long.body.error, 'TextTooLongError')
  assert.is(long.body.message, 'Your message is 300 characters long; the limit is 280. Shorten it by 20.')

  const callsign = await postFade(a!.url, { text: 'hi', callsign: 'c'.repeat(25) })
  assert.is(callsign.status, 400)
  assert.is(callsign.body.error, 'CallsignTooLongError')

  const shortTtl = await postFade(a!.url, { text: 'hi', ttl: 0.2 })
  assert.is(shortTtl.status, 400)
  assert.is(shortTtl.body.error, 'InvalidTtlError')
  assert.match(shortTtl.body.message, 'between 1 s and 7 days')

  const keysAfter = (await getJson(a!.url, '/v1/keys?prefix=fade/')).keys.length
  assert.is(keysAfter, keysBefore, 'nothing stored')
})

test('malformed requests: not JSON, wrong media type, wrong method', async () => {
  const notJson = await postFade(a!.url, '{"text": ')
  assert.is(notJson.status, 400)
  assert.is(notJson.body.error, 'InvalidJsonError')

  const form = await postFade(a!.url, 'text=hi', { 'content-type': 'application/x-www-form-urlencoded' })
  assert.is(form.status, 415)

  const get = await fetch(new URL('/fade/posts', a!.url))
  assert.is(get.status, 405)
  assert.is(get.headers.get('allow'), 'POST')
})

/** A request with its target sent as written (fetch would resolve dot segments first). */
async function rawRequest (base: string, method: string, target: string, headers: Record<string, string> = {}, body = ''): Promise<{ status: number, body: any }> {
  const { request } = await import('node:http')
  const u = new URL(base)
  return await new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path: target, headers: { 'content-length': String(Buffer.byteLength(body)), ...headers } }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => {
        let json: unknown = text
        try { json = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode!, body: json })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

test('pages of other sites cannot make a browser write: cross-site requests that write are refused', async () => {
  const host = new URL(a!.url).host
  const foreign = await rawRequest(a!.url, 'POST', '/v1/data/csrf-key', { origin: 'http://evil.example', 'content-type': 'text/plain' }, 'csrf')
  assert.is(foreign.status, 403)
  assert.is(foreign.body.error, 'ForbiddenError')
  const fetchMeta = await rawRequest(a!.url, 'PUT', '/v1/data/csrf-key', { 'sec-fetch-site': 'cross-site', 'x-ttl': '60' }, 'csrf')
  assert.is(fetchMeta.status, 403)
  const post = await postFade(a!.url, { text: 'from elsewhere' }, { origin: 'null' })
  assert.is(post.status, 403)
  assert.is((await fetch(new URL('/v1/data/csrf-key', a!.url))).status, 404, 'nothing was written')
  // The page's own requests, and programs that send no Origin, still write.
  const same = await rawRequest(a!.url, 'PUT', '/v1/data/same-site-key', { origin: `http://${host}`, 'sec-fetch-site': 'same-origin', 'x-ttl': '60' }, 'ok')
  assert.ok(same.status === 201 || same.status === 202, `same origin: ${same.status}`)
  const ownPost = await postFade(a!.url, { text: 'from the page' }, { origin: `http://${host}` })
  assert.is(ownPost.status, 201)
  // Reading is not writing: a cross-site GET is answered (CORS, off, keeps its answer from the other page).
  assert.is((await rawRequest(a!.url, 'GET', '/v1/data/same-site-key', { 'sec-fetch-site': 'cross-site' })).status, 200)
})

test('the raw API refuses writes to fade/ keys, however the URL names them, and serves everything else', async () => {
  for (const path of ['/v1/data/fade/..', '/v1/data/fade/../../x', '/v1/data/fade/%2e%2e', '/v1/data/fade/b/%2e%2e/%2e%2e', `http://${new URL(a!.url).host}/v1/data/fade/abs`]) {
    const put = await rawRequest(a!.url, 'PUT', path, { 'x-ttl': '60' }, '{"text":"\u0007"}')
    assert.is(put.status, 403, path)
    assert.is(put.body.error, 'ForbiddenError', path)
  }
  assert.not.ok((await getJson(a!.url, '/v1/keys?prefix=fade/')).keys.some((k: string) => k.includes('..') || k.endsWith('/abs')), 'none of them stored')
  for (const path of ['/v1/data/fade/01700000000000-00000000', '/v1/data/fade%2Fsneaky', '/data/fade/sneaky']) {
    const put = await fetch(new URL(path, a!.url), { method: 'PUT', headers: { 'x-ttl': '60' }, body: '{"text":"' + 'x'.repeat(400) + '"}' })
    assert.is(put.status, 403, path)
    assert.is((await put.json() as { error: string }).error, 'ForbiddenError')
  }
  const del = await fetch(new URL('/v1/data/fade/anything', a!.url), { method: 'DELETE' })
  assert.is(del.status, 403)

  const other = await fetch(new URL('/v1/data/notes/hello', a!.url), { method: 'PUT', headers: { 'x-ttl': '60' }, body: 'hello' })
  assert.ok(other.status === 201 || other.status === 202, `PUT elsewhere: ${other.status}`)
  const back = await fetch(new URL('/v1/data/notes/hello', a!.url))
  assert.is(await back.text(), 'hello')
  const status = await getJson(a!.url, '/v1/status')
  assert.is(status.peer_id, a!.peerId)
})

test('posting too fast from one address is refused with 429 and Retry-After', async () => {
  // --rate-limit 4: earlier tests used some of the burst; keep posting until refused.
  let refused: Awaited<ReturnType<typeof postFade>> | undefined
  for (let i = 0; i < 6 && refused === undefined; i++) {
    const r = await postFade(a!.url, { text: `burst ${i}`, ttl: 60 })
    if (r.status === 429) refused = r
    else assert.ok(r.status === 201 || r.status === 400, `post ${i}: ${r.status}`)
  }
  assert.ok(refused !== undefined, 'refused within 6 posts')
  assert.is(refused.body.error, 'RateLimitedError')
  assert.match(refused.body.message, 'posting too fast')
  assert.ok(Number(refused.headers.get('retry-after')) >= 1)
})

test('a post refused for its lifetime costs no rate-limit token', async () => {
  const c = await startFade([...LOOPBACK, '--min-ttl', '10', '--max-ttl', '3600', '--rate-limit', '1'])
  try {
    for (const ttl of [1, 5, 7200]) {
      const r = await postFade(c.url, { text: 'hi', ttl })
      assert.is(r.status, 400, `ttl ${ttl}`)
      assert.is(r.body.error, 'InvalidTtlError')
      assert.match(r.body.message, 'between 10 s and 60 min')
    }
    const ok = await postFade(c.url, { text: 'fixed', ttl: 120 })
    assert.ok(ok.status === 201 || ok.status === 202, `the fixed post: ${ok.status} ${JSON.stringify(ok.body)}`)
  } finally {
    await c.stop()
  }
})

test('a second server joins by --bootstrap: status streams follow, posts replicate', async () => {
  const status = openSse(new URL('/fade/events', a!.url).href)
  try {
    await status.opened
    await waitFor(() => status.events.length > 0, { timeout: 5000, message: 'first status event' })
    assert.is(status.events[0].event, 'status')
    assert.is(status.events[0].data.peer_id, a!.peerId)
    assert.equal(status.events[0].data.peers, [])

    b = await startFade([...LOOPBACK, '--min-ttl', '1', '--bootstrap', a!.multiaddrs[0]])
    const joined = await waitFor(() => status.events.find(e => e.data.peers.some((p: any) => p.peer_id === b!.peerId)), {
      timeout: 20_000, message: 'a status event listing the new peer'
    })
    assert.ok(joined.data.peers[0].addresses.length > 0, 'the peer comes with its addresses')

    const { status: code, body } = await postFade(b.url, { text: 'from b', ttl: 60 }, {})
    assert.is(code, 201)
    const replicated = await waitFor(async () => {
      const res = await fetch(new URL(`/v1/data/${body.key}`, a!.url))
      return res.ok ? await res.json() : undefined
    }, { timeout: 10_000, message: 'the post from b on a' })
    assert.equal(replicated, { text: 'from b', callsign: '' })

    const bStopped = await b.stop()
    assert.is(bStopped, 0, 'b exits 0 on SIGTERM')
    await waitFor(() => status.events.at(-1)!.data.peers.length === 0, { timeout: 20_000, message: 'a status event without b' })
  } finally {
    status.close()
  }
})

test('SIGTERM stops the server cleanly even with event streams open', async () => {
  const watch = openSse(new URL('/v1/watch?prefix=fade/', a!.url).href)
  const status = openSse(new URL('/fade/events', a!.url).href)
  try {
    await Promise.all([watch.opened, status.opened])
    const started = Date.now()
    const code = await a!.stop()
    assert.is(code, 0, `exit code; output:\n${a!.output()}`)
    assert.ok(Date.now() - started < 8000, 'within 8 s')
  } finally {
    watch.close()
    status.close()
  }
})

test('a bad flag exits 2 and says what was wrong', async () => {
  const child = spawn(process.execPath, [FADE_SERVER, '--port', 'eighty', '--no-mdns'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FADE_MDNS: '0' } })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error('did not exit within 10 s'))
    }, 10_000)
    child.on('exit', c => {
      clearTimeout(timer)
      resolve(c)
    })
  })
  assert.is(code, 2)
  assert.match(stderr, '--port')
  assert.match(stderr, 'Usage:')
})

test('npm run fade stopped with SIGTERM, as a process manager stops it, stops the server too', async () => {
  // npm's shell exits on the signal without passing it on: the server sees its parent gone.
  const { PORT: _port, ...env } = process.env as Record<string, string>
  const run = runNpmScript(['run', 'fade', '--silent', '--', '--no-mdns', ...LOOPBACK], { ...env, FADE_MDNS: '0', FADE_NETWORK: MARKER }, MARKER)
  const url = (await run.waitForLine(l => l.startsWith('fade board on network'), 'the board URL', 60_000)).split(' ').pop()!
  const pid = await run.nodePid('examples/fade/server.ts')
  const config = await fetch(`${url}fade/config`)
  assert.is(config.status, 200)
  await config.body?.cancel()

  run.npm.kill('SIGTERM')
  await run.npmExit
  await run.waitForLine(l => l === 'npm script ended: stopping', 'the server stopping')
  await waitFor(() => !markedPids(MARKER).includes(pid), { message: `server process ${pid} gone` })
  const after = await fetch(`${url}fade/config`).then(async res => { await res.body?.cancel(); return `answered ${res.status}` }, (err: Error) => err)
  assert.instance(after, Error, 'nothing answers on its port any more')
})

test.run()
