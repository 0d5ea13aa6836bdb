/**
 * A listener that throws, or an async one that rejects, cannot take the
 * process down: events fire from background work (a peer's write, an expiry
 * sweep), where Node's EventTarget would rethrow the error as an uncaught
 * exception. The error is counted and reported once per event type as a
 * process warning; replication and the other listeners go on.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startCluster, startNode, stopAll, text, waitForGossip, waitForPeers } from '../helpers/nodes.ts'
import { waitFor } from '../helpers/wait.ts'
import type { Entry, RepramNode } from '../../src/index.ts'

const test = suite('listeners')
let nodes: RepramNode[] = []
const uncaught: unknown[] = []
const warnings: Error[] = []
const onUncaught = (err: unknown): void => { uncaught.push(err) }
const onWarning = (w: Error): void => { if ((w as Error & { code?: string }).code === 'REPRAM_LISTENER_ERROR') warnings.push(w) }

test.before(async () => {
  process.on('uncaughtException', onUncaught)
  process.on('unhandledRejection', onUncaught)
  process.on('warning', onWarning)
  nodes = await startCluster(2, { minTtl: 50 })
  await waitForPeers(nodes)
  await waitForGossip(nodes[0], nodes)
})
test.after(async () => {
  await stopAll(nodes)
  process.off('uncaughtException', onUncaught)
  process.off('unhandledRejection', onUncaught)
  process.off('warning', onWarning)
})

test('a throwing or rejecting listener of a replicated write or an expiry is caught, counted, and reported once', async () => {
  const [a, b] = nodes
  const seen: string[] = []
  b.addEventListener('entry:set', () => { throw new Error('listener bug') })
  b.addEventListener('entry:set', async () => { await Promise.resolve(); throw new Error('async listener bug') })
  b.addEventListener('entry:set', evt => { seen.push(evt.detail.key) }) // after the throwing ones
  b.addEventListener('entry:expire', () => { throw new Error('expire listener bug') })
  const errors = b.stats().counters.backgroundErrors

  await a.put('guarded/1', 'x', { ttl: 60_000 })
  await a.put('guarded/2', 'x', { ttl: 100 })
  await waitFor(() => seen.length === 2, { message: 'the replicated writes to reach the last listener' })
  await waitFor(() => b.stats().counters.backgroundErrors === errors + 5, { message: 'two writes x two failing listeners, and one expiry' })
  assert.equal(seen, ['guarded/1', 'guarded/2'])
  assert.equal(uncaught, [], 'nothing reached the process')
  assert.equal(warnings.map(w => w.message.match(/"([a-z:]+)" listener/)?.[1]), ['entry:set', 'entry:expire'], 'one warning per event type')
  assert.match(warnings[0].message, /listener bug/)
})

test('a listener removed is no longer called, and one added twice runs once', async () => {
  const [a, b] = nodes
  let calls = 0
  const listener = (): void => { calls++ }
  b.addEventListener('entry:set', listener)
  b.addEventListener('entry:set', listener)
  await a.put('once/1', 'x', { ttl: 60_000 })
  await waitFor(() => calls >= 1, { message: 'the listener to run' })
  b.removeEventListener('entry:set', listener)
  await a.put('once/2', 'x', { ttl: 60_000 })
  await waitFor(async () => (await b.get('once/2')) !== undefined, { message: 'the second write to arrive' })
  assert.is(calls, 1)
  assert.is(b.listenerCount('entry:set'), 3, 'only the first test\'s listeners remain')
})

test('a put whose replaced, expired value has a listener that writes the key again announces its own bytes', async () => {
  let t = Date.now()
  const a = await startNode({ clock: () => t, minTtl: 50 })
  const b = await startNode({ bootstrap: [a.multiaddrs[0]] })
  try {
    await waitForPeers([a, b])
    await waitForGossip(a, [a, b])
    await a.put('k', 'first', { ttl: 1000 })
    t += 5000 // expired on a, not swept yet: the put below replaces it and runs its expire listeners
    a.addEventListener('entry:expire', () => { void a.put('k', 'from the listener', { ttl: 60_000 }) }, { once: true })
    const onA: Entry[] = []
    a.addEventListener('entry:set', evt => { if (evt.detail.local) onA.push(evt.detail.entry) })
    const receipt = await a.put('k', 'second', { ttl: 60_000 })
    await waitFor(() => onA.some(e => e.version === receipt.version), { message: 'the write to be announced' })
    // (It went out with them too: the record sent is the one announced. b cannot show it: the
    // listener's newer write was sent first, in the same turn, so b finds this one stale.)
    assert.is(text(onA.find(e => e.version === receipt.version)!.value), 'second', 'the writer announces its own bytes')
    await waitFor(() => text(b.getSync('k')?.value) === 'from the listener', { message: 'the listener\'s newer write to reach b' })
    assert.is(text(a.getSync('k')?.value), 'from the listener')
  } finally {
    await stopAll([a, b])
  }
})

test('a node listening only for deletes hears no delete for a replicated overwrite', async () => {
  const a = await startNode()
  const b = await startNode({ bootstrap: [a.multiaddrs[0]] })
  try {
    await waitForPeers([a, b])
    await waitForGossip(a, [a, b])
    const deletes: string[] = []
    b.addEventListener('entry:delete', evt => { deletes.push(evt.detail.key) })
    await a.put('over', 'v1', { ttl: 60_000 })
    await waitFor(() => text(b.getSync('over')?.value) === 'v1', { message: 'v1 to reach b' })
    await a.put('over', 'v2', { ttl: 60_000 })
    await waitFor(() => text(b.getSync('over')?.value) === 'v2', { message: 'v2 to reach b' })
    assert.not.ok(deletes.includes('over'), 'no delete heard for the overwrite')
    await a.delete('over')
    await waitFor(() => deletes.includes('over'), { message: 'the real delete to be heard' })
    assert.equal(deletes.filter(k => k === 'over'), ['over'], 'one delete: the real one')
  } finally {
    await stopAll([a, b])
  }
})

test('key events follow the order of the store\'s changes, also when a peer\'s newer write lands before a local write\'s event', async () => {
  const a = await startNode()
  const b = await startNode({ bootstrap: [a.multiaddrs[0]], clock: () => Date.now() + 10_000 }) // b's writes are newer
  try {
    await waitForPeers([a, b])
    await waitForGossip(b, [a, b])
    await a.put('order', 'old', { ttl: 60_000 })
    await waitFor(() => b.getSync('order') !== undefined, { message: 'the first write to reach b' })
    const seen: string[] = []
    for (const type of ['entry:set', 'entry:delete'] as const) {
      a.addEventListener(type, evt => {
        const d = evt.detail as { key: string, type: string, local: boolean, entry?: Entry }
        if (d.key === 'order') seen.push(`${d.type} ${d.local ? 'local' : 'remote'}${d.entry === undefined ? '' : ' ' + text(d.entry.value)}`)
      })
    }
    // In one callback: b writes (its bytes reach a's socket while this code still runs), then a
    // deletes. a's delete event waits for the end of the turn; b's write is applied before it.
    await new Promise<void>(resolve => setTimeout(() => {
      void b.put('order', 'newer', { ttl: 60_000 })
      const until = Date.now() + 50
      while (Date.now() < until) { /* b's message travels meanwhile */ }
      void a.delete('order')
      resolve()
    }, 0))
    await waitFor(() => seen.length >= 2, { message: 'both events on a' })
    assert.is(text(a.getSync('order')?.value), 'newer', 'the newer write won')
    assert.equal(seen, ['delete local', 'set remote newer'], 'the last event says what the store holds')
  } finally {
    await stopAll([a, b])
  }
})

test.run()
