/**
 * fade's pure rules: what a post may be, how keys sort, how flags and
 * environment are read, and the per-client rate limit (injected clock).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  checkPost, countChars, encodePost, isPostKey, newPostKey, parsePost, MAX_CALLSIGN_CHARS, MAX_TEXT_CHARS
} from '../../examples/fade/posts.ts'
import { FadeUsageError, parseFadeOptions } from '../../examples/fade/options.ts'
import { PostRateLimiter } from '../../examples/fade/rate-limit.ts'

function refusal (input: unknown): string {
  const check = checkPost(input)
  if (check.ok) throw new Error(`expected a refusal for ${JSON.stringify(input)}`)
  return check.refusal.error
}

test('a post is trimmed, NFC-normalised and keeps its line breaks', () => {
  const check = checkPost({ text: '  Cafe\u0301 at 10\r\nthird floor  ', callsign: ' kestrel ', ttl: 300 })
  assert.ok(check.ok)
  if (!check.ok) return
  assert.equal(check.post, { text: 'Café at 10\nthird floor', callsign: 'kestrel' })
  assert.is(check.ttlSeconds, 300)
})

test('the 280 limit counts code points: 280 emoji pass, 281 characters do not', () => {
  const emoji = '🌊'.repeat(MAX_TEXT_CHARS)
  assert.is(emoji.length, 2 * MAX_TEXT_CHARS, 'UTF-16 length is twice the limit')
  assert.is(countChars(emoji), MAX_TEXT_CHARS)
  assert.ok(checkPost({ text: emoji }).ok)

  const check = checkPost({ text: 'a'.repeat(MAX_TEXT_CHARS + 1) })
  assert.not.ok(check.ok)
  if (check.ok) return
  assert.is(check.refusal.error, 'TextTooLongError')
  assert.match(check.refusal.message, '281 characters')
  assert.match(check.refusal.message, 'limit is 280')
})

test('callsign: optional, at most 24 characters, one line', () => {
  const none = checkPost({ text: 'hi' })
  assert.ok(none.ok && none.post.callsign === '')
  assert.ok(checkPost({ text: 'hi', callsign: 'x'.repeat(MAX_CALLSIGN_CHARS) }).ok)
  assert.is(refusal({ text: 'hi', callsign: 'x'.repeat(MAX_CALLSIGN_CHARS + 1) }), 'CallsignTooLongError')
  assert.is(refusal({ text: 'hi', callsign: 'two\nlines' }), 'InvalidCallsignError')
  assert.is(refusal({ text: 'hi', callsign: 42 }), 'InvalidCallsignError')
})

test('malformed posts are refused with a named error', () => {
  assert.is(refusal(null), 'InvalidPostError')
  assert.is(refusal([]), 'InvalidPostError')
  assert.is(refusal({ text: 5 }), 'InvalidPostError')
  assert.is(refusal({ text: '   \n ' }), 'EmptyTextError')
  assert.is(refusal({ text: 'bell\u0007' }), 'InvalidTextError')
  assert.is(refusal({ text: 'hi', ttl: -1 }), 'InvalidTtlError')
  assert.is(refusal({ text: 'hi', ttl: '60' }), 'InvalidTtlError')
})

test('markup is just text to the rules (rendering keeps it inert)', () => {
  const check = checkPost({ text: '<img src=x onerror=alert(1)>' })
  assert.ok(check.ok && check.post.text === '<img src=x onerror=alert(1)>')
})

test('parsePost reads what encodePost writes and refuses anything else', () => {
  assert.equal(parsePost(encodePost({ text: 'hello', callsign: 'otter' })), { text: 'hello', callsign: 'otter' })
  assert.is(parsePost('not json'), undefined)
  assert.is(parsePost('{"text":""}'), undefined)
  assert.is(parsePost(JSON.stringify({ text: 'x'.repeat(MAX_TEXT_CHARS + 1) })), undefined)
})

test('keys sort in creation order and have one shape', () => {
  const bytes = (b: number) => (): Uint8Array => new Uint8Array(4).fill(b)
  const early = newPostKey(1_700_000_000_000, bytes(0xff))
  const late = newPostKey(1_700_000_000_001, bytes(0x00))
  assert.is(early, 'fade/01700000000000-ffffffff')
  assert.ok(early < late, 'a later millisecond sorts later whatever the suffix')
  assert.ok(isPostKey(early) && isPostKey(newPostKey(Date.now())))
  assert.not.ok(isPostKey('fade/../etc'))
  const many = new Set(Array.from({ length: 100 }, () => newPostKey(1)))
  assert.is(many.size, 100, 'same millisecond, distinct keys')
})

test('options: defaults', () => {
  const o = parseFadeOptions([], {})
  assert.equal(o, {
    port: 8080,
    host: '127.0.0.1',
    network: 'fade',
    listen: ['/ip4/0.0.0.0/tcp/0'],
    bootstrap: [],
    mdns: true,
    minTtlMs: 60_000,
    maxTtlMs: 604_800_000,
    postsPerMinute: 10,
    json: false,
    help: false
  })
})

test('options: flags win over environment', () => {
  const env = { PORT: '9000', HOST: 'workstation', FADE_HOST: '0.0.0.0', FADE_MDNS: '0', FADE_BOOTSTRAP: '/ip4/10.0.0.1/tcp/1/p2p/a', FADE_MIN_TTL: '30' }
  const fromEnv = parseFadeOptions([], env)
  assert.is(fromEnv.port, 9000)
  assert.is(fromEnv.host, '0.0.0.0')
  assert.is(fromEnv.mdns, false)
  assert.equal(fromEnv.bootstrap, ['/ip4/10.0.0.1/tcp/1/p2p/a'])
  assert.is(fromEnv.minTtlMs, 30_000)

  const o = parseFadeOptions([
    '--port', '0', '--host', '::1', '--no-mdns', '--bootstrap', ' /ip4/127.0.0.1/tcp/1/p2p/a , /ip4/127.0.0.1/tcp/2/p2p/b ',
    '--listen', '/ip4/127.0.0.1/tcp/0', '--min-ttl', '0.5', '--max-ttl', '60', '--json', '--network', 'office', '--rate-limit', '3'
  ], env)
  assert.is(o.port, 0)
  assert.is(o.host, '::1')
  assert.is(o.mdns, false)
  assert.equal(o.bootstrap, ['/ip4/127.0.0.1/tcp/1/p2p/a', '/ip4/127.0.0.1/tcp/2/p2p/b'])
  assert.equal(o.listen, ['/ip4/127.0.0.1/tcp/0'])
  assert.is(o.minTtlMs, 500)
  assert.is(o.maxTtlMs, 60_000)
  assert.is(o.json, true)
  assert.is(o.network, 'office')
  assert.is(o.postsPerMinute, 3)
})

test('options: bad values name the flag', () => {
  const bad = (argv: string[], env = {}): string => {
    try {
      parseFadeOptions(argv, env)
    } catch (err) {
      assert.instance(err, FadeUsageError)
      return (err as Error).message
    }
    throw new Error(`accepted ${argv.join(' ')}`)
  }
  assert.match(bad(['--port', '70000']), '--port')
  assert.match(bad(['--port', 'eighty']), '--port')
  for (const port of ['0x50', '1e3', '-1', '80 80']) assert.match(bad(['--port', port]), '--port', port)
  assert.is(parseFadeOptions(['--port', ' 8081 ']).port, 8081)
  assert.is(parseFadeOptions([], { PORT: ' ' }).port, parseFadeOptions([], {}).port, 'a blank value is no value')
  assert.match(bad(['--min-ttl', '0']), '--min-ttl')
  assert.match(bad(['--min-ttl', '60', '--max-ttl', '30']), '--max-ttl')
  assert.match(bad(['--colour']), 'colour')
  assert.match(bad([], { FADE_MDNS: 'maybe' }), 'FADE_MDNS')
})

test('rate limit: a burst of perMinute, then one per 60/perMinute s, per client', () => {
  let now = 0
  const limiter = new PostRateLimiter({ perMinute: 3, clock: () => now })
  assert.equal([limiter.take('a'), limiter.take('a'), limiter.take('a')], [0, 0, 0])
  assert.is(limiter.take('a'), 20, 'the fourth waits for one token: 20 s')
  assert.is(limiter.take('b'), 0, 'another client has its own bucket')
  now += 19_000
  assert.is(limiter.take('a'), 1)
  now += 1_000
  assert.is(limiter.take('a'), 0)
})

test('rate limit: the table stays bounded', () => {
  let now = 0
  const limiter = new PostRateLimiter({ perMinute: 1, maxClients: 100, clock: () => now })
  for (let i = 0; i < 1000; i++) limiter.take(`client-${i}`)
  assert.ok((limiter as unknown as { buckets: Map<string, unknown> }).buckets.size <= 101)
  now += 60_000
  assert.is(limiter.take('client-999'), 0)
})

test.run()
