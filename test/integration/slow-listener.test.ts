/**
 * A node's own writes go out before its listeners hear of them: with a peer
 * in another process, the peer has a write (and a delete, and a write
 * batched behind another in the same turn) while a slow `entry:set` /
 * `entry:delete` listener on the writer is still busy.
 */
import { spawn } from 'node:child_process'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnLanNode } from '../helpers/node-process.ts'
import { startNode } from '../helpers/nodes.ts'
import { waitFor } from '../helpers/wait.ts'
import type { RepramNode } from '../../src/index.ts'
import type { NodeEvent } from '../helpers/node-process.ts'

/** How long the slow listener keeps the writer's thread busy, ms. */
const BUSY_MS = 400

test('a slow local listener holds back neither its own write nor the others of the same turn', async () => {
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

    /** When the slow listener ran, per key (epoch ms, the clock the peer process stamps its events with). */
    const busy = new Map<string, { start: number, end: number }>()
    const slow = ({ key, local }: { key: string, local: boolean }): void => {
      if (!local || !key.startsWith('slow/')) return
      const start = Date.now()
      while (Date.now() - start < BUSY_MS) { /* a listener doing something slow, synchronously */ }
      busy.set(key, { start, end: Date.now() })
    }
    writer.addEventListener('entry:set', evt => { slow(evt.detail) })
    writer.addEventListener('entry:delete', evt => { slow(evt.detail) })

    const check = async (event: string, key: string): Promise<void> => {
      const got: NodeEvent = await peer.waitForEvent(event, e => e.key === key, { timeout: 10_000 })
      const ran = await waitFor(() => busy.get(key), { timeout: 10_000, message: `the slow listener for ${key}` })
      // Without the ordering, the peer gets the write only after the listener ends.
      assert.ok(got.at < ran.end - BUSY_MS / 2, `${event} ${key}: the peer had it at ${got.at}, the writer's listener ran ${ran.start}-${ran.end}`)
    }

    await new Promise(resolve => setImmediate(resolve)) // a fresh turn
    await writer.put('slow/first', 'x', { ttl: 60_000 })
    await check('entry:set', 'slow/first')

    await new Promise(resolve => setImmediate(resolve))
    // Two writes in one turn: the second is batched and goes out at the end of the turn,
    // after the first one's message; neither listener may run before both are out.
    await Promise.all([writer.put('slow/one', 'x', { ttl: 60_000 }), writer.put('slow/two', 'x', { ttl: 60_000 })])
    await check('entry:set', 'slow/one')
    await check('entry:set', 'slow/two')

    await new Promise(resolve => setImmediate(resolve))
    assert.is(await writer.delete('slow/first'), true)
    await check('entry:delete', 'slow/first')
  } finally {
    await a?.stop()
    await peer.stop()
  }
})

test.run()
