/**
 * A node's own writes go out before anything slow on the writer can hold
 * them back. With a peer in another process, the peer has a write (and a
 * delete, and a write batched behind another in the same turn) while, on
 * the writer, a slow `entry:set` / `entry:delete` listener is still busy,
 * or while the writer's own code after `await put()` / `await delete()` is.
 */
import { spawn } from 'node:child_process'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnLanNode } from '../helpers/node-process.ts'
import { startNode } from '../helpers/nodes.ts'
import { waitFor } from '../helpers/wait.ts'
import type { RepramNode } from '../../src/index.ts'
import type { NodeEvent, NodeProcess } from '../helpers/node-process.ts'

/** How long each slow piece of code keeps the writer's thread busy, ms. */
const BUSY_MS = 400

interface Busy { start: number, end: number }

/** Keeps the thread busy for `BUSY_MS`, synchronously; returns when (epoch ms, the clock the peer process stamps its events with). */
function busyWait (): Busy {
  const start = Date.now()
  while (Date.now() - start < BUSY_MS) { /* something slow and synchronous */ }
  return { start, end: Date.now() }
}

/** Runs `fn` with a writer node here and a peer node in another process, connected, gossip flowing from writer to peer. */
async function withPeer (fn: (writer: RepramNode, peer: NodeProcess) => Promise<void>): Promise<void> {
  const peer = spawnLanNode({ name: 'peer process', spawn: (command, args, opts) => spawn(command, args, opts ?? {}) }, { mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'] })
  let a: RepramNode | undefined
  try {
    const ready = await peer.ready()
    a = await startNode({ bootstrap: [ready.multiaddrs[0]] })
    const writer = a
    let probes = 0
    await waitFor(async () => {
      await writer.put('probe', String(++probes), { ttl: 60_000 })
      return peer.events.some(e => e.event === 'entry:set' && e.key === 'probe')
    }, { timeout: 20_000, interval: 200, message: 'gossip from the writer to reach the peer process' })
    await fn(writer, peer)
  } finally {
    await a?.stop()
    await peer.stop()
  }
}

/** Asserts that the peer had `event` for `key` before the slow code that ran for it was half done. */
async function peerHadItFirst (peer: NodeProcess, event: string, key: string, ran: Busy | (() => Busy | undefined)): Promise<void> {
  const got: NodeEvent = await peer.waitForEvent(event, e => e.key === key, { timeout: 10_000 })
  const busy = typeof ran === 'function' ? await waitFor(ran, { timeout: 10_000, message: `the slow code for ${key}` }) : ran
  // Held back, the peer gets the write only after the slow code ends.
  assert.ok(got.at < busy.end - BUSY_MS / 2, `${event} ${key}: the peer had it at ${got.at}, the writer was busy ${busy.start}-${busy.end}`)
}

const freshTurn = async (): Promise<void> => { await nextTurn() }

test('a slow local listener holds back neither its own write nor the others of the same turn', async () => {
  await withPeer(async (writer, peer) => {
    /** When the slow listener ran, per key. */
    const busy = new Map<string, Busy>()
    const slow = ({ key, local }: { key: string, local: boolean }): void => {
      if (local && key.startsWith('slow/')) busy.set(key, busyWait())
    }
    writer.addEventListener('entry:set', evt => { slow(evt.detail) })
    writer.addEventListener('entry:delete', evt => { slow(evt.detail) })
    const ran = (key: string) => () => busy.get(key)

    await freshTurn()
    await writer.put('slow/first', 'x', { ttl: 60_000 })
    await peerHadItFirst(peer, 'entry:set', 'slow/first', ran('slow/first'))

    await freshTurn()
    // Two writes in one turn: the second is batched and goes out at the end of the turn,
    // after the first one's message; neither listener may run before both are out.
    await Promise.all([writer.put('slow/one', 'x', { ttl: 60_000 }), writer.put('slow/two', 'x', { ttl: 60_000 })])
    await peerHadItFirst(peer, 'entry:set', 'slow/one', ran('slow/one'))
    await peerHadItFirst(peer, 'entry:set', 'slow/two', ran('slow/two'))

    await freshTurn()
    busy.delete('slow/first') // what the put's listener did: wait for the delete's own
    assert.is(await writer.delete('slow/first'), true)
    await peerHadItFirst(peer, 'entry:delete', 'slow/first', ran('slow/first'))
  })
})

test('slow code right after `await put()` or `await delete()` does not hold back the write', async () => {
  await withPeer(async (writer, peer) => {
    await freshTurn()
    await writer.put('after/put', 'x', { ttl: 60_000 })
    await peerHadItFirst(peer, 'entry:set', 'after/put', busyWait())

    await freshTurn()
    assert.is(await writer.delete('after/put'), true)
    await peerHadItFirst(peer, 'entry:delete', 'after/put', busyWait())
  })
})

test.run()
