import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RepramNode, generatePsk } from '../../src/index.ts'
import { LOOPBACK, startNode, stopAll, text } from '../helpers/nodes.ts'
import { InvalidArgumentError, InvalidConfigError, ListenError } from '../../src/index.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createServer } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import type { AddressInfo } from 'node:net'
import { waitFor } from '../helpers/wait.ts'
import { logger } from '@libp2p/logger'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { DhtRendezvous } from '../../src/discovery/dht-rendezvous.ts'
import type { Libp2p } from '@libp2p/interface'

const test = suite('discovery, private swarms and identity')
const started: RepramNode[] = []
test.after(async () => { await stopAll(started) })

test('bootstrap keeps retrying until the bootstrap peer comes up', async () => {
  // Reserve an identity and port for the late peer by starting and stopping it once.
  const dir = await mkdtemp(join(tmpdir(), 'repram-id-'))
  try {
    const identityFile = join(dir, 'late.key')
    const probe = await startNode({ identityFile })
    const addr = probe.multiaddrs[0]
    const port = addr.split('/')[4]
    await probe.stop()
    const early = await startNode({ bootstrap: [addr] })
    started.push(early)
    await early.put('waiting', 'for a friend', { ttl: 60_000 })
    await waitFor(() => early.stats().counters.dialFailures >= 2, { message: 'a few failed dials first' })
    const late = await startNode({ identityFile, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    started.push(late)
    assert.is(late.peerId, addr.split('/p2p/')[1], 'the identity file kept the peer id')
    await waitFor(() => early.peers.includes(late.peerId), { timeout: 20_000, message: 'the retry loop to connect' })
    await waitFor(async () => text((await late.get('waiting'))?.value) === 'for a friend')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a bootstrap peer given at several addresses is reached at a working one, behind ones that refuse or hang', async () => {
  const a = await startNode()
  started.push(a)
  // A port with nothing listening on it, and two that accept and then never answer (a firewall
  // dropping packets looks the same to a dialler), all under a's peer id.
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const deadPort = (server.address() as AddressInfo).port
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  const tarpits = await Promise.all([0, 1].map(async () => {
    const pit = createServer(socket => { socket.on('error', () => {}) })
    await new Promise<void>(resolve => pit.listen(0, '127.0.0.1', resolve))
    return pit
  }))
  try {
    const at = (port: number): string => `/ip4/127.0.0.1/tcp/${port}/p2p/${a.peerId}`
    const b = await startNode({ bootstrap: [at(deadPort), ...tarpits.map(pit => at((pit.address() as AddressInfo).port)), a.multiaddrs[0]] })
    started.push(b)
    // Each address in turn, one per attempt: the two that hang cost one dial timeout (10 s) each.
    await waitFor(() => b.peers.includes(a.peerId), { timeout: 40_000, interval: 100, message: 'b to reach a at its last address' })
  } finally {
    for (const pit of tarpits) pit.close()
  }
})

test('a blocked peer that keeps a connected (bootstrap, dial) backs off instead of redialling at once, and is back at once when unblocked', async () => {
  const a = await startNode()
  const b = await startNode({ bootstrap: [a.multiaddrs[0]] })
  started.push(a, b)
  await waitFor(() => a.peers.includes(b.peerId) && b.peers.includes(a.peerId), { message: 'a and b to connect' })
  // Connections b opens to a, as b sees them: a closes each one right after the handshake.
  const opened: number[] = []
  const bLibp2p = (b as unknown as { running: { libp2p: Libp2p } }).running.libp2p
  const onOpen = (evt: CustomEvent<{ remotePeer: { toString: () => string } }>): void => {
    if (evt.detail.remotePeer.toString() === a.peerId) opened.push(performance.now())
  }
  bLibp2p.addEventListener('connection:open', onOpen as any)
  try {
    await a.blockPeer(b.peerId)
    const blockedAt = performance.now()
    // Watch b for 4 s: libp2p's reconnect queue and b's bootstrap loop both redial a. Before the
    // backoff, each connection looked open, so both redialled at once: hundreds of handshakes here.
    await waitFor(() => performance.now() - blockedAt >= 4_000, { timeout: 10_000, interval: 100 })
    assert.ok(opened.length <= 6, `${opened.length} connections from b in 4 s`)
    assert.ok(b.stats().counters.dialFailures >= 1, 'the refused dials are counted as failures')
    assert.not.ok(b.peers.includes(a.peerId))
    a.unblockPeer(b.peerId)
    await waitFor(() => a.peers.includes(b.peerId) && b.peers.includes(a.peerId), { timeout: 5_000, message: 'a and b to connect again once unblocked' })
  } finally {
    bLibp2p.removeEventListener('connection:open', onOpen as any)
  }
})

test('blockPeer and unblockPeer take a peer id in any of its text forms, and refuse what is not one', async () => {
  const a = await startNode()
  const b = await startNode({ bootstrap: [a.multiaddrs[0]] })
  started.push(a, b)
  await waitFor(() => a.peers.includes(b.peerId), { message: 'a and b to connect' })
  const asCid = peerIdFromString(b.peerId).toCID().toString()
  assert.is.not(asCid, b.peerId)
  await a.blockPeer(asCid)
  await waitFor(() => !a.peers.includes(b.peerId), { message: 'b, blocked by its CID form, to be disconnected' })
  a.unblockPeer(b.peerId)
  await waitFor(() => a.peers.includes(b.peerId), { timeout: 5_000, message: 'b, unblocked by its usual form, to be back' })
  for (const wrong of ['', 'not a peer id', 42, undefined]) {
    const err = await a.blockPeer(wrong as string).then(() => undefined, (e: Error) => e)
    assert.instance(err, InvalidArgumentError, `blockPeer(${JSON.stringify(wrong)})`)
    assert.throws(() => { a.unblockPeer(wrong as string) }, (e: Error) => e instanceof InvalidArgumentError)
  }
  assert.ok(a.peers.includes(b.peerId), 'nothing blocked by the refused calls')
})

test('a peer blocked while its connection is being set up is disconnected all the same, and never joins', async () => {
  const a = await startNode()
  const b = await startNode()
  started.push(a, b)
  const la = (a as unknown as { running: { libp2p: Libp2p & { components: { connectionGater: Record<string, (...args: unknown[]) => unknown> } } } }).running.libp2p
  // The block comes right after the handshake's gater check, before the muxer is negotiated.
  const gater = la.components.connectionGater
  const check = gater.denyOutboundEncryptedConnection
  let blocking: Promise<void> | undefined
  gater.denyOutboundEncryptedConnection = async (...args: unknown[]) => {
    const denied = await check.apply(gater, args)
    blocking ??= a.blockPeer(b.peerId)
    return denied
  }
  const joined: string[] = []
  a.addEventListener('peer:join', evt => { joined.push(evt.detail.peerId) })
  await a.dial(b.multiaddrs[0])
  assert.ok(blocking !== undefined, 'blocked during the dial')
  await blocking
  await waitFor(() => la.getConnections(peerIdFromString(b.peerId)).length === 0, { message: 'no connection with the blocked peer' })
  assert.not.ok(a.peers.includes(b.peerId))
  assert.equal(joined, [])
})

test('unblockPeer dials a blocked bootstrap peer at once, also one never connected to', async () => {
  const b = await startNode()
  started.push(b)
  const a = new RepramNode({ ...LOOPBACK, bootstrap: [b.multiaddrs[0]] })
  started.push(a)
  await a.blockPeer(b.peerId) // before a knows any address of b but the bootstrap one
  await a.start()
  // Blocked for 8 s: a backoff that grew at each skipped dial would be 8 s between dials by then.
  const t0 = performance.now()
  await waitFor(() => performance.now() - t0 >= 8_000, { timeout: 12_000, interval: 200 })
  assert.not.ok(a.peers.includes(b.peerId))
  const unblockedAt = performance.now()
  a.unblockPeer(b.peerId)
  await waitFor(() => a.peers.includes(b.peerId), { timeout: 15_000, message: 'b to join once unblocked' })
  const ms = performance.now() - unblockedAt
  assert.ok(ms < 2_000, `joined ${Math.round(ms)} ms after unblockPeer`)
})

test('dial() right after unblocking a peer never met before connects', async () => {
  const a = await startNode()
  const b = await startNode()
  started.push(a, b)
  await a.blockPeer(b.peerId)
  a.unblockPeer(b.peerId) // dials b by id, with no address known for it
  assert.is(await a.dial(b.multiaddrs[0]), true)
  assert.ok(a.peers.includes(b.peerId) || (await waitFor(() => a.peers.includes(b.peerId))))
})

test('identityFile is created with mode 0600 and reused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'repram-id-'))
  try {
    const identityFile = join(dir, 'sub', 'node.key')
    const a = await startNode({ identityFile })
    const id = a.peerId
    await a.stop()
    assert.is((await stat(identityFile)).mode & 0o777, 0o600)
    const b = await startNode({ identityFile })
    started.push(b)
    assert.is(b.peerId, id)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a bootstrap peer of another network is reported once, by a process warning naming it', async () => {
  const other = await startNode({ network: 'another-network' })
  started.push(other)
  const warnings: Error[] = []
  const onWarning = (w: Error): void => { if ((w as { code?: string }).code === 'REPRAM_PEER_MISMATCH') warnings.push(w) }
  process.on('warning', onWarning)
  try {
    // Two REPRAM nodes dialling each other, the second dial over a connection the first opened: no warning.
    const x = await startNode()
    const y = await startNode()
    started.push(x, y)
    assert.is(await y.dial(x.multiaddrs[0]), true)
    assert.is(await x.dial(y.multiaddrs[0]), true)
    await waitFor(() => x.peers.includes(y.peerId) && y.peers.includes(x.peerId), { message: 'x and y to join' })
    const a = await startNode({ bootstrap: [other.multiaddrs[0]] })
    started.push(a)
    await waitFor(() => warnings.length >= 1, { message: 'the warning' })
    assert.match(warnings[0].message, other.peerId)
    assert.match(warnings[0].message, /is not a REPRAM node of this network: it does not speak \/repram\/repram\/sync\//)
    assert.equal(a.peers, [])
    // The same through dial(), which keeps the peer once connected (identify has run by then).
    const c = await startNode()
    started.push(c)
    assert.is(await c.dial(other.multiaddrs[0]), true)
    await waitFor(() => warnings.length >= 2, { message: 'the warning of the dialled peer' })
    assert.match(warnings[1].message, other.peerId)
  } finally {
    process.off('warning', onWarning)
  }
  assert.is(warnings.length, 2)
})

test('a second node with a running node\'s identityFile does not start: InvalidConfigError; it starts once the first stopped', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'repram-id-'))
  try {
    const identityFile = join(dir, 'node.key')
    const a = await startNode({ identityFile })
    const twin = new RepramNode({ ...LOOPBACK, identityFile })
    started.push(a, twin)
    const id = a.peerId
    const err = await twin.start().then(() => undefined, (e: Error) => e)
    assert.instance(err, InvalidConfigError)
    assert.match(err!.message, /identityFile: .* is in use by another node of this process/)
    await a.stop()
    await twin.start()
    assert.is(twin.peerId, id)
    await twin.stop()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a private swarm (psk) admits only nodes with the same key', async () => {
  const psk = generatePsk()
  const a = await startNode({ psk })
  started.push(a)
  const b = await startNode({ psk, bootstrap: [a.multiaddrs[0]] })
  const outsider = await startNode({ psk: generatePsk(), bootstrap: [a.multiaddrs[0]] })
  const open = await startNode({ bootstrap: [a.multiaddrs[0]] })
  started.push(b, outsider, open)
  await waitFor(() => b.peers.includes(a.peerId), { message: 'b to join the private swarm' })
  await a.put('private', 'members only', { ttl: 60_000 })
  await waitFor(async () => (await b.get('private')) !== undefined)
  await waitFor(() => outsider.stats().counters.dialFailures >= 1 && open.stats().counters.dialFailures >= 1, { message: 'the outsiders to fail' })
  assert.is(outsider.peers.length, 0)
  assert.is(open.peers.length, 0)
  assert.is(await outsider.get('private'), undefined)
})

test('the DHT rendezvous connects peers that only knew a common bootstrap node', async () => {
  const hub = await startNode({ dht: true })
  started.push(hub)
  const b = await startNode({ dht: true, bootstrap: [hub.multiaddrs[0]] })
  const c = await startNode({ dht: true, bootstrap: [hub.multiaddrs[0]] })
  started.push(b, c)
  await waitFor(() => b.peers.includes(c.peerId) && c.peers.includes(b.peerId), { timeout: 45_000, message: 'b and c to find each other through the DHT' })

  // A provider that cannot be dialled (one that left: its record outlives it) is dialled with a
  // growing backoff, not every round. A rendezvous on b with rounds of 200 ms, whose dials of the
  // hub (a provider every lookup finds) fail.
  const unreachable = peerIdFromString(hub.peerId)
  const dials: number[] = []
  const rendezvous = new DhtRendezvous({
    libp2p: (b as unknown as { running: { libp2p: Libp2p } }).running.libp2p,
    network: b.config.network,
    log: logger('test:dht'),
    roundMs: 200,
    dial: async (peer) => {
      if (!peer.equals(unreachable)) return true
      dials.push(performance.now())
      return false
    }
  })
  rendezvous.start()
  try {
    await waitFor(() => dials.length >= 4, { timeout: 20_000, message: `four dials of the unreachable provider (got ${dials.length})` })
    const gaps = dials.slice(1, 4).map((t, i) => t - dials[i])
    assert.ok(gaps[0] >= 190, `the first retry waits one backoff (gaps ${gaps.map(Math.round).join(', ')} ms)`)
    assert.ok(gaps[2] >= 790 && gaps[2] >= 2 * gaps[0], `the backoff doubles (gaps ${gaps.map(Math.round).join(', ')} ms)`)
  } finally {
    rendezvous.stop()
  }
})

test('dial() refuses what is not a peer address with InvalidArgumentError, and dials one that is', async () => {
  const a = await startNode()
  const b = await startNode()
  started.push(a, b)
  const refused = async (addr: unknown, why: RegExp): Promise<void> => {
    const err = await a.dial(addr as string).then(() => undefined, (e: Error) => e)
    assert.instance(err, InvalidArgumentError, `dial(${JSON.stringify(addr)})`)
    assert.match(err!.message, why)
  }
  await refused('not a multiaddr/p2p/x', /not a valid peer id|not a valid multiaddr/)
  await refused(b.multiaddrs[0].replace(/\/p2p\/.*$/, ''), /must end in \/p2p\/<peer id>/)
  await refused('/ip4/127.0.0.1/tcp/1/p2p/NotAPeerId', /"NotAPeerId" is not a valid peer id/)
  await refused(42, /expected a multiaddr/)
  assert.is(await a.dial(multiaddr(b.multiaddrs[0])), true, 'a Multiaddr object is taken too')
  await waitFor(() => a.peers.includes(b.peerId), { message: 'the dialled peer to join' })
})

test('an announced address may end in the node\'s own /p2p/<id>, not in another\'s (refused at start, when the id is known)', async () => {
  const privateKey = await generateKeyPair('Ed25519')
  const own = peerIdFromPrivateKey(privateKey).toString()
  const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const wrong = new RepramNode({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], announce: ['/ip4/127.0.0.1/tcp/4001', `/ip4/10.1.2.3/tcp/4001/p2p/${other}`] })
  const err = await wrong.start().then(() => undefined, (e: Error) => e)
  assert.instance(err, InvalidConfigError)
  assert.is((err as InvalidConfigError).field, 'announce[1]')
  assert.match(err!.message, /another peer's id/)
  assert.not.ok(wrong.started)
  const right = await startNode({ privateKey, announce: [`/ip4/10.1.2.3/tcp/4001/p2p/${own}`] })
  started.push(right)
  assert.equal(right.multiaddrs, [`/ip4/10.1.2.3/tcp/4001/p2p/${own}`])
})

test('start() on a port in use fails with ListenError naming it, and succeeds once the port is free', async () => {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const node = new RepramNode({ mdns: false, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
  try {
    const err = await node.start().then(() => undefined, (e: Error) => e)
    assert.instance(err, ListenError)
    assert.match(err!.message, new RegExp(`cannot listen on the configured addresses: /ip4/127.0.0.1/tcp/${port}: .*EADDRINUSE`))
    assert.not.ok(node.started)
    await new Promise<void>(resolve => server.close(() => { resolve() }))
    await node.start()
    assert.ok(node.multiaddrs.some(a => a.startsWith(`/ip4/127.0.0.1/tcp/${port}/p2p/`)))
  } finally {
    server.close()
    await node.stop()
  }
})

test('gossip flows again after the connection carrying it closes while another connection to the peer stays open', async () => {
  const a = await startNode({ syncInterval: 0 })
  const b = await startNode({ syncInterval: 0, bootstrap: [a.multiaddrs[0]] })
  started.push(a, b)
  await waitFor(() => a.peers.includes(b.peerId) && b.peers.includes(a.peerId), { message: 'the nodes to join' })
  await a.put('before', 'x', { quorum: 1, timeout: 10_000 })
  // A second connection, as when two nodes dial each other at once (a shared bootstrap list, mDNS).
  const la = (a as unknown as { running: { libp2p: Libp2p } }).running.libp2p
  const lb = (b as unknown as { running: { libp2p: Libp2p } }).running.libp2p
  await lb.dial(multiaddr(a.multiaddrs[0]), { force: true })
  await waitFor(() => la.getConnections(lb.peerId).length === 2, { message: 'two connections' })
  // The one a's gossip goes out on drops (a socket error, a ping timeout); the other stays.
  const gossip = la.getConnections(lb.peerId).find(c => c.streams.some(s => s.direction === 'outbound' && s.protocol?.startsWith('/meshsub/') === true))
  assert.ok(gossip !== undefined, 'a has an outbound gossip stream')
  await gossip.close()
  // Gossipsub opens its stream to a peer once, when it connects: it must connect anew.
  const aToB = await a.put('after/a', 'x', { quorum: 1, timeout: 15_000 })
  assert.is(aToB.confirmations, 1)
  const bToA = await b.put('after/b', 'x', { quorum: 1, timeout: 15_000 })
  assert.is(bToA.confirmations, 1)
})

test.run()
