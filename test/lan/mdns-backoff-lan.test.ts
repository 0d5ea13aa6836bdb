/**
 * A peer that mDNS announces but that cannot be connected to is dialled with
 * growing gaps, not at every announcement; once it connects, its backoff
 * starts over.
 *
 * Two nodes found through mDNS only (no peer list), each a process in its
 * own network namespace on a namespaced LAN:
 *
 * 1. they connect (same `psk`);
 * 2. the second restarts with the same identity and another `psk`: the first
 *    already knows it (no new discovery, so no discovery retries), and every
 *    dial it makes on an announcement fails in the handshake. The times at
 *    which its `dialFailures` counter grows are recorded: the gaps must be at
 *    least the doubling backoff, where without it they would be about one
 *    mDNS interval plus one dial (a dial that fails in the handshake takes
 *    from a few ms to the per-address dial timeout, so these gaps are only
 *    bounded from below);
 * 3. the second restarts with the right `psk` again and they connect, which
 *    resets the backoff;
 * 4. a partition (a `prohibit` route each way, open connections killed; the
 *    multicast keeps flowing) makes every dial fail at once, so the gaps are
 *    the backoff itself: each is at least 1.5 times the one before, and the
 *    first is the initial backoff again, not the last one of step 2;
 * 5. the partition heals and they connect at the next retry.
 *
 * Needs root; skipped (with the reason printed) otherwise.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ANNOUNCED_BACKOFF_MIN_MS } from '../../src/discovery/dialer.ts'
import { generatePsk } from '../../src/identity.ts'
import type { NodeStats } from '../../src/types.ts'
import { createLan, cutRoute, healRoute, netnsSupport } from '../helpers/netns.ts'
import { spawnLanNode } from '../helpers/node-process.ts'
import { waitFor } from '../helpers/wait.ts'
import type { Lan } from '../helpers/netns.ts'
import type { NodeProcess } from '../helpers/node-process.ts'

const MDNS_INTERVAL_MS = 300
/** The second node's fixed listen port, so that its restarts keep the address the first one knows. */
const PORT = 4101
const READY_DEADLINE_MS = 60_000
const DEADLINE_MS = 30_000
/** How often the failure counter is read, ms. */
const POLL_MS = 25
/** Error of a recorded failure time: a poll period plus a stats round trip on a loaded machine. */
const SLACK_MS = 250
/**
 * Longest a failed dial can take (the dialer's own dial timeout), ms.
 * Without the backoff, no gap between two failures could be longer than
 * this plus one mDNS interval.
 */
const DIAL_TIMEOUT_MS = 10_000

const support = netnsSupport()
if (!support.ok) {
  console.log(`skipping the mDNS backoff LAN test: ${support.reason}`)
  test.skip('mDNS backoff')
} else {
  let lan: Lan | undefined
  let dir: string | undefined
  const started: NodeProcess[] = []
  const pskA = generatePsk()
  const pskB = generatePsk()
  /** The node that keeps running and whose failures are counted. */
  let a: NodeProcess
  /** The peer it cannot connect to, restarted with the same identity. */
  let b: NodeProcess

  test.after(async () => {
    try {
      await Promise.all(started.map(async n => await n.stop()))
    } finally {
      await lan?.destroy()
      if (dir !== undefined) await rm(dir, { recursive: true, force: true })
    }
  })

  async function startB (psk: string): Promise<NodeProcess> {
    const node = spawnLanNode(lan!.hosts[1], {
      mdns: MDNS_INTERVAL_MS,
      listen: [`/ip4/0.0.0.0/tcp/${PORT}`],
      init: { psk, identityFile: join(dir!, 'b.key') },
      label: `B (psk ${psk === pskA ? 'A' : 'B'})`
    })
    started.push(node)
    await node.ready({ timeout: READY_DEADLINE_MS })
    return node
  }

  async function dialFailures (node: NodeProcess): Promise<number> {
    return (await node.request<NodeStats>('stats')).counters.dialFailures
  }

  /**
   * Polls `node`'s failed dials until `count` more than `from` were counted,
   * and returns the time each was first seen (epoch ms).
   */
  async function failureTimes (node: NodeProcess, from: number, count: number, timeout: number): Promise<number[]> {
    const times: number[] = []
    let seen = from
    await waitFor(async () => {
      const now = await dialFailures(node)
      const at = Date.now()
      for (; seen < now && times.length < count; seen++) times.push(at)
      return times.length >= count
    }, { timeout, interval: POLL_MS, message: `${count} failed dials of ${node.label} (seen: ${times.length})` })
    return times
  }

  function gapsOf (times: number[]): number[] {
    return times.slice(1).map((t, i) => t - times[i])
  }

  test('two mDNS peers with the same psk connect', async () => {
    lan = await createLan({ hosts: 2, prefix: 'rback' })
    dir = await mkdtemp(join(tmpdir(), 'repram-backoff-'))
    a = spawnLanNode(lan.hosts[0], { mdns: MDNS_INTERVAL_MS, init: { psk: pskA }, label: 'A' })
    started.push(a)
    b = (await Promise.all([a.ready({ timeout: READY_DEADLINE_MS }), startB(pskA)]))[1]
    await a.waitForEvent('peer:join', e => e.peerId === b.peerId, { timeout: DEADLINE_MS })
  })

  test('a known peer restarted with another psk is dialled with growing gaps, not at every announcement', async () => {
    const id = b.peerId
    const mark = a.events.length
    assert.is(await b.stop(), 0)
    await a.waitForEvent('peer:leave', e => e.peerId === id && a.events.indexOf(e) >= mark, { timeout: DEADLINE_MS })
    b = await startB(pskB)
    assert.is(b.peerId, id, 'the same identity')
    const from = await dialFailures(a)
    // Four gaps: with the backoff at least 1, 2, 4 and 8 times the initial one, plus a dial each.
    const times = await failureTimes(a, from, 5, 120_000)
    const gaps = gapsOf(times)
    console.log(`gaps between failed dials, other psk (ms): ${gaps.join(', ')}`)
    gaps.forEach((gap, i) => {
      const backoff = ANNOUNCED_BACKOFF_MIN_MS * 2 ** i
      assert.ok(gap >= backoff - SLACK_MS, `gap ${i + 1} (${gap} ms) is at least the backoff (${backoff} ms); all gaps: ${gaps.join(', ')}`)
      // Still dialled: at the first announcement after the backoff.
      assert.ok(gap <= backoff + DIAL_TIMEOUT_MS + 5_000, `gap ${i + 1} (${gap} ms) is the backoff (${backoff} ms) plus at most a dial and an announcement; all gaps: ${gaps.join(', ')}`)
    })
    assert.ok(gaps[3] > DIAL_TIMEOUT_MS + MDNS_INTERVAL_MS + SLACK_MS, `the last gap (${gaps[3]} ms) is longer than any without a backoff`)
    assert.equal(await a.request<string[]>('peers'), [], 'never connected')
  })

  test('once the peer connects, its backoff starts over: a partition right after is retried from the first backoff', async () => {
    const [h1, h2] = lan!.hosts
    const id = b.peerId
    assert.is(await b.stop(), 0)
    const mark = a.events.length
    // A's announcement dials are backing off now; the new B (a fresh peer store) dials A at once.
    b = await startB(pskA)
    await a.waitForEvent('peer:join', e => e.peerId === id && a.events.indexOf(e) >= mark, { timeout: DEADLINE_MS })

    const from = await dialFailures(a)
    const cutAt = Date.now()
    await cutRoute(h1, h2)
    await cutRoute(h2, h1)
    const times = await failureTimes(a, from, 4, 60_000)
    const gaps = gapsOf(times)
    console.log(`first failed dial ${times[0] - cutAt} ms after the cut; gaps between failed dials, partition (ms): ${gaps.join(', ')}`)
    // Without the reset, the first gap would be twice the last backoff of the previous test (16 times the first).
    assert.ok(gaps[0] >= ANNOUNCED_BACKOFF_MIN_MS - SLACK_MS, `the first gap (${gaps[0]} ms) is at least the first backoff (${ANNOUNCED_BACKOFF_MIN_MS} ms)`)
    assert.ok(gaps[0] > 3 * MDNS_INTERVAL_MS, `the first gap (${gaps[0]} ms) is longer than dialling every announcement (${MDNS_INTERVAL_MS} ms) would give`)
    assert.ok(gaps[0] < 2 * ANNOUNCED_BACKOFF_MIN_MS, `the first gap (${gaps[0]} ms) is the first backoff again, the one of the previous failures was reset`)
    for (let i = 1; i < gaps.length; i++) {
      assert.ok(gaps[i] >= 1.5 * gaps[i - 1], `gap ${i + 1} (${gaps[i]} ms) is at least 1.5 times gap ${i} (${gaps[i - 1]} ms); all gaps: ${gaps.join(', ')}`)
    }

    // The partition ends; the next retry (within one more doubled backoff) connects them again.
    const healMark = a.events.length
    await healRoute(h1, h2)
    await healRoute(h2, h1)
    await a.waitForEvent('peer:join', e => e.peerId === id && a.events.indexOf(e) >= healMark, { timeout: DEADLINE_MS })
  })
}

test.run()
