/**
 * resolveConfig: fills defaults, and refuses every bad option with an
 * `InvalidConfigError` whose `.field` names the option (and whose message
 * names the bad value).
 */
import { test } from 'uvu'
import { peerIdFromString } from '@libp2p/peer-id'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { DEFAULTS, MAX_KEY_BYTES_LIMIT, MAX_TIMER_DELAY_MS, MAX_VALUE_BYTES_LIMIT, resolveConfig } from '../../src/config.ts'
import { generatePsk } from '../../src/identity.ts'
import type { RepramNodeInit } from '../../src/config.ts'

const HOUR = 3_600_000
const PEER = '12D3KooWGzBvZ8vUj5kTmN1y5b6oQ3cVHW8H1qCZ1aXk2mH9rQpe'

/** Asserts resolveConfig(init) throws InvalidConfigError (by name) for `field`, with a message matching `re`. */
function rejects (init: unknown, field: string, re?: RegExp): void {
  const label = `${JSON.stringify(init, (_k, v) => typeof v === 'function' ? '[function]' : v instanceof Uint8Array ? '[bytes]' : v)} → ${field}`
  try {
    resolveConfig(init as RepramNodeInit)
  } catch (err) {
    const e = err as Error & { field?: string, code?: string }
    assert.is(e.name, 'InvalidConfigError', `${label}: got ${e.name}: ${e.message}`)
    assert.is(e.code, 'ERR_INVALID_CONFIG')
    assert.is(e.field, field, `${label}: message was "${e.message}"`)
    assert.ok(e.message.startsWith(`invalid option ${field}: `), `${label}: message names the field: "${e.message}"`)
    if (re !== undefined) assert.match(e.message, re, label)
    return
  }
  assert.unreachable(`${label}: accepted`)
}

test('defaults', () => {
  const c = resolveConfig()
  assert.equal({ ...c, clock: undefined }, {
    network: 'repram',
    listen: ['/ip4/0.0.0.0/tcp/0'],
    announce: [],
    mdns: { interval: 10_000 },
    bootstrap: [],
    dht: false,
    defaultTtl: HOUR,
    minTtl: 1000,
    maxTtl: 7 * 24 * HOUR,
    maxValueBytes: 1024 * 1024,
    maxKeyBytes: 512,
    maxEntries: 1_000_000,
    maxBytes: 256 * 1024 * 1024,
    maxClockSkew: 30_000,
    syncInterval: 30_000,
    syncIdleTimeout: 30_000,
    psk: undefined,
    privateKey: undefined,
    identityFile: undefined,
    clock: undefined
  })
  assert.is(c.clock, Date.now)
  assert.equal(resolveConfig({}), c, 'no options is the same as {}')
  assert.is(c.defaultTtl, DEFAULTS.defaultTtl)
  assert.is(c.maxTtl, DEFAULTS.maxTtl)
})

test('a resolved config does not share arrays with the defaults', () => {
  const a = resolveConfig()
  a.listen.push('/ip4/127.0.0.1/tcp/1')
  assert.equal(resolveConfig().listen, ['/ip4/0.0.0.0/tcp/0'])
  assert.equal([...DEFAULTS.listen], ['/ip4/0.0.0.0/tcp/0'])
})

test('valid options pass through', () => {
  const clock = (): number => 42
  const c = resolveConfig({
    network: 'my-net_1.0',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    announce: ['/dns4/example.org/tcp/4001'],
    mdns: { interval: 500 },
    bootstrap: [`/ip4/10.0.0.1/tcp/4001/p2p/${PEER}`],
    dht: true,
    minTtl: 100,
    maxTtl: 60_000,
    defaultTtl: 5000,
    maxValueBytes: MAX_VALUE_BYTES_LIMIT,
    maxKeyBytes: MAX_KEY_BYTES_LIMIT,
    maxEntries: 10,
    maxBytes: 1,
    maxClockSkew: 0,
    syncInterval: 0,
    identityFile: 'data/identity.key',
    clock
  })
  assert.is(c.network, 'my-net_1.0')
  assert.equal(c.mdns, { interval: 500 })
  assert.equal(c.bootstrap, [`/ip4/10.0.0.1/tcp/4001/p2p/${PEER}`])
  assert.is(c.dht, true)
  assert.equal([c.minTtl, c.defaultTtl, c.maxTtl], [100, 5000, 60_000])
  assert.equal([c.maxValueBytes, c.maxKeyBytes, c.maxEntries, c.maxBytes, c.maxClockSkew, c.syncInterval], [MAX_VALUE_BYTES_LIMIT, MAX_KEY_BYTES_LIMIT, 10, 1, 0, 0])
  assert.is(c.identityFile, 'data/identity.key')
  assert.is(c.clock, clock)
  assert.is(resolveConfig({ mdns: false }).mdns, false)
  assert.equal(resolveConfig({ mdns: true }).mdns, { interval: 10_000 })
  assert.equal(resolveConfig({ mdns: {} }).mdns, { interval: 10_000 })
})

test('init must be an options object', () => {
  rejects(null, 'init', /expected an options object, got null/)
  rejects('repram', 'init')
  rejects(42, 'init')
})

test('an unknown option is refused, by name (typos do not pass silently)', () => {
  rejects({ mdsn: false }, 'mdsn', /unknown option/)
  rejects({ ttl: 1000 }, 'ttl', /unknown option/)
  rejects({ listen: ['/ip4/127.0.0.1/tcp/0'], maxTTL: 5 }, 'maxTTL')
})

test('network: 1-64 letters, digits, ".", "_" or "-"', () => {
  for (const ok of ['a', 'A'.repeat(64), 'repram', 'my.net-1_x', '0']) assert.is(resolveConfig({ network: ok }).network, ok)
  rejects({ network: '' }, 'network', /got ""/)
  rejects({ network: 'a'.repeat(65) }, 'network')
  rejects({ network: 'has space' }, 'network', /"has space"/)
  rejects({ network: 'a/b' }, 'network')
  rejects({ network: 'ünï' }, 'network')
  rejects({ network: 'tab\t' }, 'network')
  rejects({ network: 42 }, 'network', /got 42/)
  rejects({ network: ['repram'] }, 'network', /an array/)
})

test('mdns: true, false or { interval }', () => {
  rejects({ mdns: 'yes' }, 'mdns', /"yes"/)
  rejects({ mdns: 1 }, 'mdns')
  rejects({ mdns: null }, 'mdns')
  rejects({ mdns: { interval: 1000, intreval: 5 } }, 'mdns.intreval', /unknown option/)
})

test('dht: a boolean', () => {
  rejects({ dht: 'true' }, 'dht', /"true"/)
  rejects({ dht: 1 }, 'dht')
  rejects({ dht: null }, 'dht')
})

test('TTL bounds: integers, 1 <= minTtl <= defaultTtl <= maxTtl <= 2^31-1', () => {
  rejects({ minTtl: 0 }, 'minTtl', /0 is outside \[1, 2147483647\]/)
  rejects({ minTtl: -5 }, 'minTtl')
  rejects({ minTtl: 1.5 }, 'minTtl', /expected an integer, got 1.5/)
  rejects({ minTtl: Number.NaN }, 'minTtl', /NaN/)
  rejects({ minTtl: '1000' }, 'minTtl', /"1000"/)
  rejects({ minTtl: MAX_TIMER_DELAY_MS + 1 }, 'minTtl')
  rejects({ maxTtl: Infinity }, 'maxTtl', /Infinity/)
  rejects({ maxTtl: MAX_TIMER_DELAY_MS + 1 }, 'maxTtl', /outside/)
  rejects({ minTtl: 5000, maxTtl: 4999 }, 'maxTtl', /4999 is outside \[5000,/)
  rejects({ minTtl: 100, maxTtl: 1000, defaultTtl: 99 }, 'defaultTtl', /99 is outside \[100, 1000\]/)
  rejects({ minTtl: 100, maxTtl: 1000, defaultTtl: 1001 }, 'defaultTtl')
  rejects({ defaultTtl: 0 }, 'defaultTtl')
  // Equal bounds are fine.
  const c = resolveConfig({ minTtl: 500, maxTtl: 500 })
  assert.equal([c.minTtl, c.defaultTtl, c.maxTtl], [500, 500, 500])
  assert.is(resolveConfig({ maxTtl: MAX_TIMER_DELAY_MS }).maxTtl, MAX_TIMER_DELAY_MS)
})

test('TTL defaults follow the bounds given', () => {
  const shortMax = resolveConfig({ minTtl: 100, maxTtl: 1000 })
  assert.is(shortMax.defaultTtl, 1000, 'defaultTtl clamped down to maxTtl')
  const longMin = resolveConfig({ minTtl: 2 * HOUR })
  assert.is(longMin.defaultTtl, 2 * HOUR, 'defaultTtl raised to minTtl')
  const hugeMin = resolveConfig({ minTtl: 10 * 24 * HOUR })
  assert.is(hugeMin.maxTtl, 10 * 24 * HOUR, 'maxTtl raised to minTtl')
  assert.is(hugeMin.defaultTtl, 10 * 24 * HOUR)
})

test('listen, announce, bootstrap: arrays of multiaddr strings; bootstrap entries need /p2p/<id>', () => {
  rejects({ listen: '/ip4/0.0.0.0/tcp/0' }, 'listen', /expected an array/)
  rejects({ listen: [42] }, 'listen[0]', /got 42/)
  rejects({ listen: ['/ip4/0.0.0.0/tcp/0', ''] }, 'listen[1]')
  rejects({ announce: ['ip4/1.2.3.4/tcp/1'] }, 'announce[0]', /"ip4\/1.2.3.4\/tcp\/1"/)
  rejects({ bootstrap: `/ip4/1.2.3.4/tcp/1/p2p/${PEER}` }, 'bootstrap')
  rejects({ bootstrap: ['/ip4/1.2.3.4/tcp/1'] }, 'bootstrap[0]', /must end in \/p2p\/<peer id>/)
  rejects({ bootstrap: [`/ip4/1.2.3.4/tcp/1/p2p/${PEER}`, '/ip4/1.2.3.5/tcp/1'] }, 'bootstrap[1]', /1\.2\.3\.5/)
  rejects({ bootstrap: ['/ip4/1.2.3.4/tcp/1/p2p/'] }, 'bootstrap[0]')
  rejects({ bootstrap: [null] }, 'bootstrap[0]')
  assert.equal(resolveConfig({ bootstrap: [`/dns4/seed.example/tcp/4001/p2p/${PEER}`] }).bootstrap, [`/dns4/seed.example/tcp/4001/p2p/${PEER}`])
})

test('listen and announce: TCP addresses only, the one transport a node has', () => {
  rejects({ listen: ['/ip4/0.0.0.0/udp/0/quic-v1'] }, 'listen[0]', /only TCP addresses are supported/)
  rejects({ listen: ['/ip4/0.0.0.0/tcp/0/ws'] }, 'listen[0]', /only TCP addresses are supported/)
  rejects({ announce: ['/ip4/1.2.3.4/udp/4001'] }, 'announce[0]', /only TCP addresses are supported/)
  const ok = { listen: ['/ip4/0.0.0.0/tcp/0', '/ip6/::/tcp/4001'], announce: ['/dns4/node.example/tcp/4001', `/ip4/1.2.3.4/tcp/4001/p2p/${PEER}`] }
  assert.equal({ listen: resolveConfig(ok).listen, announce: resolveConfig(ok).announce }, ok)
  rejects({ listen: [`/ip4/0.0.0.0/tcp/0/p2p/${PEER}`] }, 'listen[0]', /leave out \/p2p\/<peer id>/)
  rejects({ announce: ['/ip4/1.2.3.4/tcp/0'] }, 'announce[0]', /the port peers reach, not 0/)
  // Bootstrap addresses too: a QUIC address could never connect.
  rejects({ bootstrap: [`/ip4/1.2.3.4/udp/4001/quic-v1/p2p/${PEER}`] }, 'bootstrap[0]', /only TCP addresses are supported/)
  assert.equal(resolveConfig({ bootstrap: [`/dnsaddr/seed.example/p2p/${PEER}`] }).bootstrap, [`/dnsaddr/seed.example/p2p/${PEER}`])
  // A peer id in its CID form is taken, and written the way libp2p compares ids.
  const asCid = peerIdFromString(PEER).toCID().toString()
  assert.equal(resolveConfig({ bootstrap: [`/ip4/1.2.3.4/tcp/1/p2p/${asCid}`] }).bootstrap, [`/ip4/1.2.3.4/tcp/1/p2p/${PEER}`])
})

test('size limits: positive integers under their hard ceilings', () => {
  rejects({ maxValueBytes: MAX_VALUE_BYTES_LIMIT + 1 }, 'maxValueBytes', new RegExp(`${MAX_VALUE_BYTES_LIMIT + 1} is outside \\[1, ${MAX_VALUE_BYTES_LIMIT}\\]`))
  rejects({ maxValueBytes: 0 }, 'maxValueBytes')
  rejects({ maxKeyBytes: MAX_KEY_BYTES_LIMIT + 1 }, 'maxKeyBytes')
  rejects({ maxKeyBytes: 0 }, 'maxKeyBytes')
  rejects({ maxEntries: 0 }, 'maxEntries')
  rejects({ maxEntries: Infinity }, 'maxEntries', /Infinity/)
  rejects({ maxEntries: 100_000_001 }, 'maxEntries')
  rejects({ maxBytes: 0 }, 'maxBytes')
  rejects({ maxBytes: 1.5 }, 'maxBytes')
  rejects({ maxBytes: Number.MAX_SAFE_INTEGER + 2 }, 'maxBytes')
})

test('timing options: maxClockSkew in [0, 1 h], syncInterval in [0, 2^31-1], syncIdleTimeout in [1, 2^31-1]', () => {
  rejects({ maxClockSkew: -1 }, 'maxClockSkew')
  rejects({ maxClockSkew: HOUR + 1 }, 'maxClockSkew')
  rejects({ syncInterval: -1 }, 'syncInterval')
  rejects({ syncInterval: MAX_TIMER_DELAY_MS + 1 }, 'syncInterval')
  rejects({ syncInterval: '30s' }, 'syncInterval')
  rejects({ syncIdleTimeout: 0 }, 'syncIdleTimeout')
  rejects({ syncIdleTimeout: MAX_TIMER_DELAY_MS + 1 }, 'syncIdleTimeout')
  assert.is(resolveConfig({ syncIdleTimeout: 250 }).syncIdleTimeout, 250)
})

test('psk: swarm key text or bytes, in the /key/swarm/psk/1.0.0/ format', () => {
  const key = generatePsk()
  const fromText = resolveConfig({ psk: key }).psk
  assert.ok(fromText instanceof Uint8Array)
  assert.is(new TextDecoder().decode(fromText), key)
  const bytes = new TextEncoder().encode(key)
  assert.equal(Array.from(resolveConfig({ psk: bytes }).psk!), Array.from(bytes))
  // A key file as editors leave it (CRLF, a trailing newline or spaces, upper-case hex) is taken, in the form libp2p reads.
  const hex = key.split('\n')[2]
  for (const variant of [`${key}\n`, `${key}  \t`, key.replace(/\n/g, '\r\n') + '\r\n', key.replace(hex, hex.toUpperCase())]) {
    assert.is(new TextDecoder().decode(resolveConfig({ psk: variant }).psk), key, JSON.stringify(variant))
  }
  rejects({ psk: 'secret' }, 'psk', /\/key\/swarm\/psk\/1\.0\.0\//)
  rejects({ psk: new Uint8Array(95) }, 'psk')
  rejects({ psk: 42 }, 'psk', /got 42/)
  rejects({ psk: null }, 'psk')
})

test('privateKey or identityFile, not both; each well-formed', async () => {
  const privateKey = await generateKeyPair('Ed25519')
  assert.is(resolveConfig({ privateKey }).privateKey, privateKey)
  rejects({ privateKey, identityFile: 'id.key' }, 'privateKey', /not both/)
  rejects({ privateKey: 'base64-key' }, 'privateKey', /PrivateKey/)
  rejects({ privateKey: {} }, 'privateKey')
  rejects({ privateKey: { publicKey: 1 } }, 'privateKey') // not a key libp2p could use: refused here, not at start()
  rejects({ privateKey: privateKey.publicKey }, 'privateKey')
  rejects({ privateKey: null }, 'privateKey')
  rejects({ identityFile: '' }, 'identityFile', /expected a file path/)
  rejects({ identityFile: 42 }, 'identityFile')
})

test('clock: a function', () => {
  rejects({ clock: 'Date.now' }, 'clock', /expected a function/)
  rejects({ clock: 1_700_000_000_000 }, 'clock')
  rejects({ clock: null }, 'clock')
  const clock = (): number => 7
  assert.is(resolveConfig({ clock }).clock(), 7)
})

test('messages name the bad value without dumping it whole', () => {
  try {
    resolveConfig({ network: 'x'.repeat(500) })
    assert.unreachable('accepted')
  } catch (err) {
    const msg = (err as Error).message
    assert.ok(msg.length < 300, `message is short (${msg.length} chars)`)
    assert.match(msg, /x{80}…/)
  }
})

// --- regressions ------------------------------------------------------------------

test('a bad mdns.interval names the field "mdns.interval"', () => {
  rejects({ mdns: { interval: 50 } }, 'mdns.interval', /50 is outside/)
  rejects({ mdns: { interval: 'often' } }, 'mdns.interval')
})

test('network null is refused like every other non-string', () => {
  rejects({ network: null }, 'network', /null/)
})

test('a psk with the right header but no valid key is refused here, not at start()', () => {
  rejects({ psk: '/key/swarm/psk/1.0.0/\n/base16/\nnot-hex' }, 'psk')
  rejects({ psk: '/key/swarm/psk/1.0.0/' }, 'psk')
})

test('addresses are parsed: a bad multiaddr or peer id is refused up front', () => {
  rejects({ listen: ['/ip4/not-an-ip/tcp/0'] }, 'listen[0]', /not a valid multiaddr/)
  rejects({ announce: ['/nonsense/1'] }, 'announce[0]', /not a valid multiaddr/)
  rejects({ bootstrap: ['/ip4/127.0.0.1/tcp/4001/p2p/not-a-peer-id'] }, 'bootstrap[0]', /not a valid peer id/)
})

test.run()
