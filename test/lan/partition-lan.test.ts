/**
 * A LAN partition longer than libp2p's own reconnect window heals: two
 * nodes found through mDNS only (no peer list), cut apart for longer than
 * the five redials of libp2p's reconnect queue (about 31 s), find each
 * other again once the link is back, because every mDNS announcement of a
 * peer that is not connected is dialled, and a write made meanwhile
 * arrives through the sync round of the rejoin.
 *
 * The partition is real: a `prohibit` route to the other host in each
 * namespace (senders get EACCES at once) and the open TCP connections
 * killed; multicast keeps flowing, as it would on a LAN whose unicast path
 * broke. Needs root; skipped (with the reason printed) otherwise.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createLan, cutRoute, healRoute, netnsSupport } from '../helpers/netns.ts'
import { spawnLanNode } from '../helpers/node-process.ts'
import { waitFor } from '../helpers/wait.ts'
import type { Lan } from '../helpers/netns.ts'
import type { NodeProcess } from '../helpers/node-process.ts'

/** How long the partition lasts after both sides saw it: past libp2p's reconnect window (1+2+4+8+16 s). */
const PARTITION_MS = 36_000
const READY_DEADLINE_MS = 60_000
const DEADLINE_MS = 30_000

const support = netnsSupport()
if (!support.ok) {
  console.log(`skipping the LAN partition test: ${support.reason}`)
  test.skip('LAN partition')
} else {
  let lan: Lan | undefined
  const nodes: NodeProcess[] = []

  test.after(async () => {
    try {
      await Promise.all(nodes.map(async n => await n.stop()))
    } finally {
      await lan?.destroy()
    }
  })

  test('two mDNS peers cut apart for longer than the reconnect window find each other again, and catch up', async () => {
    lan = await createLan({ hosts: 2, prefix: 'rpart' })
    const [h1, h2] = lan.hosts
    for (const host of lan.hosts) nodes.push(spawnLanNode(host, { mdns: 500, label: host.name }))
    const [n1, n2] = nodes
    const [r1, r2] = await Promise.all(nodes.map(async n => await n.ready({ timeout: READY_DEADLINE_MS })))
    await n1.waitForEvent('peer:join', e => e.peerId === r2.peerId, { timeout: DEADLINE_MS })
    await n2.waitForEvent('peer:join', e => e.peerId === r1.peerId, { timeout: DEADLINE_MS })

    await cutRoute(h1, h2)
    await cutRoute(h2, h1)
    await n1.waitForEvent('peer:leave', e => e.peerId === r2.peerId, { timeout: DEADLINE_MS })
    await n2.waitForEvent('peer:leave', e => e.peerId === r1.peerId, { timeout: DEADLINE_MS })
    const mark = n1.events.length
    const rejoined = (): boolean => n1.events.slice(mark).some(e => e.event === 'peer:join')
    await n1.request('put', { key: 'written/apart', value: 'during the partition', ttl: 600_000 })
    await new Promise(resolve => setTimeout(resolve, PARTITION_MS)) // the partition itself, not a wait for a result
    assert.not.ok(rejoined(), 'still apart')

    await healRoute(h1, h2)
    await healRoute(h2, h1)
    await n1.waitForEvent('peer:join', e => e.peerId === r2.peerId && n1.events.indexOf(e) >= mark, { timeout: DEADLINE_MS })
    const got = await waitFor(async () => await n2.request<{ value: string } | null>('get', { key: 'written/apart' }), {
      timeout: DEADLINE_MS, interval: 100, message: 'the write made during the partition to reach the other side'
    })
    assert.is(got.value, 'during the partition')
  })
}

test.run()
