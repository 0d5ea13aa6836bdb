/**
 * A catch-up over a slow link (2 Mbit/s, a throttling relay on loopback):
 * the round finishes without the connection being dropped, and both sides
 * end with each other's entries. Before the sync window, megabytes queued on
 * the connection, libp2p's pings waited behind them past their timeout and
 * it dropped the connection, again and again, and no round finished; with
 * values of 1 MiB, one frame alone took 4 s to cross, and libp2p's least
 * ping timeout (5 s) was too short for a ping behind it.
 */
import { createServer } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { startNode, stopAll } from '../helpers/nodes.ts'
import { slowLink } from '../helpers/throttle.ts'
import { waitFor } from '../helpers/wait.ts'
import type { AddressInfo } from 'node:net'
import type { Libp2p } from '@libp2p/interface'
import type { RepramNode } from '../../src/index.ts'
import type { SlowLink } from '../helpers/throttle.ts'

const test = suite('sync over a slow link')
const started: RepramNode[] = []
const links: SlowLink[] = []
test.after(async () => {
  await stopAll(started)
  for (const link of links) await link.close()
})

const RATE = 250_000 // bytes/s
const ENTRIES = 5000 // of 1 KB: about 5.6 MB on the wire, 22 s at RATE (4,000 were enough to see the old drops)

interface SlowPair { holder: RepramNode, joiner: RepramNode, link: SlowLink, drops: () => number }

/** A holder reachable only through a relay slowed to RATE towards the joiner, and a joiner that starts the round. */
async function slowPair (fill: (holder: RepramNode) => Promise<void>): Promise<SlowPair> {
  // The joining node has the smaller peer id, so it starts the round.
  const [x, y] = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')])
  const [low, high] = peerIdFromPrivateKey(x).toString() < peerIdFromPrivateKey(y).toString() ? [x, y] : [y, x]
  // The holder announces only the relay, so that every connection to it, redials included, takes the slow link.
  const port = await freePort()
  const relay = await slowLink(port, RATE)
  links.push(relay)
  const holder = await startNode({ privateKey: high, syncInterval: 0, listen: [`/ip4/127.0.0.1/tcp/${port}`], announce: [`/ip4/127.0.0.1/tcp/${relay.port}`] })
  started.push(holder)
  await fill(holder)
  // The joiner announces an address nobody listens on, so the holder cannot reach it around the relay.
  const joiner = await startNode({ privateKey: low, syncInterval: 0, announce: ['/ip4/127.0.0.1/tcp/9'] })
  started.push(joiner)
  let drops = 0
  ;(joiner as unknown as { running: { libp2p: Libp2p } }).running.libp2p.addEventListener('peer:disconnect', () => { drops++ })
  return { holder, joiner, link: relay, drops: () => drops }
}

test('a catch-up of 5 MB at 2 Mbit/s completes in one round, with the connection kept', async () => {
  const { holder, joiner, link, drops } = await slowPair(async (holder) => {
    for (let i = 0; i < ENTRIES; i++) await holder.put(`bulk/${i}`, 'x'.repeat(1000), { ttl: 600_000 })
  })
  for (let i = 0; i < 200; i++) await joiner.put(`mine/${i}`, 'y', { ttl: 600_000 })
  const t0 = performance.now()
  assert.ok(await joiner.dial(`/ip4/127.0.0.1/tcp/${link.port}/p2p/${holder.peerId}`), 'the joiner reaches the holder through the relay')
  await waitFor(() => joiner.keys({ prefix: 'bulk/' }).length === ENTRIES && holder.keys({ prefix: 'mine/' }).length === 200, {
    timeout: 90_000,
    interval: 250,
    message: `the catch-up (joiner ${joiner.keys({ prefix: 'bulk/' }).length}/${ENTRIES}, holder ${holder.keys({ prefix: 'mine/' }).length}/200, ` +
      `drops ${drops()}, failed rounds ${joiner.stats().counters.syncFailures}+${holder.stats().counters.syncFailures}, relayed ${link.bytesDown()} B)`
  })
  const seconds = (performance.now() - t0) / 1000
  assert.is(drops(), 0, 'the connection was never dropped')
  assert.is(joiner.stats().counters.syncFailures + holder.stats().counters.syncFailures, 0, 'no round failed')
  assert.ok(link.bytesDown() < 1.5 * ENTRIES * 1100, `the store crossed the link once (${link.bytesDown()} B in ${seconds.toFixed(1)} s)`)
})

test('five values of 1 MiB at 2 Mbit/s (4 s each on the link) come across in one round, with the connection kept', async () => {
  const { holder, joiner, link, drops } = await slowPair(async (holder) => {
    for (let i = 0; i < 5; i++) await holder.put(`large/${i}`, new Uint8Array(1024 * 1024).fill(i), { ttl: 600_000 })
  })
  assert.ok(await joiner.dial(`/ip4/127.0.0.1/tcp/${link.port}/p2p/${holder.peerId}`))
  await waitFor(() => joiner.keys({ prefix: 'large/' }).length === 5, {
    timeout: 90_000,
    interval: 250,
    message: `the catch-up (joiner ${joiner.keys({ prefix: 'large/' }).length}/5, drops ${drops()}, failed rounds ${joiner.stats().counters.syncFailures}+${holder.stats().counters.syncFailures})`
  })
  assert.is(drops(), 0, 'the connection was never dropped')
  assert.is(joiner.stats().counters.syncFailures + holder.stats().counters.syncFailures, 0, 'no round failed')
  assert.equal(joiner.getSync('large/4')?.value, new Uint8Array(1024 * 1024).fill(4))
})

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  return port
}

test.run()
