import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RepramNode, generatePsk } from '../../src/index.ts'
import { startNode, stopAll, text } from '../helpers/nodes.ts'
import { InvalidArgumentError, ListenError } from '../../src/index.ts'
import { createServer } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import type { AddressInfo } from 'node:net'
import { waitFor } from '../helpers/wait.ts'

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

test.run()
