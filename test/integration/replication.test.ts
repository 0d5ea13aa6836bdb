import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { RepramNode } from '../../src/index.ts'
import type { Entry } from '../../src/index.ts'
import { startCluster, startNode, stopAll, text, waitForGossip, waitForPeers } from '../helpers/nodes.ts'
import { nextEvent, waitFor } from '../helpers/wait.ts'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { Kind } from '../../src/replication/codec.ts'

const test = suite('replication between real nodes on loopback')
let nodes: RepramNode[] = []

test.before(async () => {
  nodes = await startCluster(3)
  await waitForPeers(nodes)
  await waitForGossip(nodes[0], nodes)
})
test.after(async () => { await stopAll(nodes) })

test('a put on one node is readable on every node, with the same version and expiry', async () => {
  const [a, b, c] = nodes
  const receipt = await a.put('greeting', 'hello', { ttl: 60_000 })
  assert.is(receipt.key, 'greeting')
  assert.is(receipt.confirmations, 0)
  for (const n of [b, c]) {
    const entry = await waitFor(async () => await n.get('greeting'), { message: 'greeting to replicate' })
    assert.is(text(entry.value), 'hello')
    assert.is(entry.expiresAt, receipt.expiresAt)
    assert.is(entry.version, receipt.version)
    assert.is(entry.origin, a.peerId)
  }
})

test('binary values and content types replicate byte for byte', async () => {
  const [a, b] = nodes
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 255)
  await a.put('bin', bytes, { ttl: 60_000, contentType: 'application/octet-stream' })
  const entry = await waitFor(async () => await b.get('bin'))
  assert.equal(entry.value, bytes)
  assert.is(entry.contentType, 'application/octet-stream')
})

test('a caller changing its array after put changes neither the stored nor the replicated value', async () => {
  const [a, b] = nodes
  for (const size of [200, 5000]) {
    const bytes = new Uint8Array(size).fill(1)
    const seen = nextEvent<{ key: string, entry: Entry }>(a, 'entry:set', { filter: d => d.key === `mine/${size}` })
    // The first write of a turn goes out at once; this one is batched and
    // sent at the end of the turn, after the caller changed its array.
    const first = a.put(`mine/${size}/first`, 'x', { ttl: 60_000 })
    const put = a.put(`mine/${size}`, bytes, { ttl: 60_000 })
    bytes.fill(2)
    await Promise.all([first, put])
    const local = (await seen).entry.value
    bytes.fill(3)
    const remote = await waitFor(async () => await b.get(`mine/${size}`))
    for (const [where, value] of [['local get', a.getSync(`mine/${size}`)!.value], ['local event', local], ['peer', remote.value]] as const) {
      assert.ok(value.length === size && value.every(x => x === 1), `${where}: the bytes put, ${size} B`)
    }
  }
})

test('a local put or delete is on the wire before local listeners run', async () => {
  const [a] = nodes
  await new Promise(resolve => setImmediate(resolve)) // a fresh turn: its first write is published at once
  const sentAtEvent: number[] = []
  const record = (): void => { sentAtEvent.push(a.stats().counters.gossipSent) }
  a.addEventListener('entry:set', record)
  a.addEventListener('entry:delete', record)
  try {
    const before = a.stats().counters.gossipSent
    await a.put('wire-first', 'x', { ttl: 60_000 })
    await new Promise(resolve => setImmediate(resolve))
    await a.delete('wire-first')
    await new Promise(resolve => setImmediate(resolve))
    await a.put('wire-first/quorum', 'x', { ttl: 60_000, quorum: 1 })
    assert.equal(sentAtEvent.length, 3)
    assert.ok(sentAtEvent[0] > before, `put: published before entry:set (${sentAtEvent[0]} > ${before})`)
    assert.ok(sentAtEvent[1] > sentAtEvent[0], 'delete: published before entry:delete')
    assert.ok(sentAtEvent[2] > sentAtEvent[1], 'quorum put: published before entry:set')
  } finally {
    a.removeEventListener('entry:set', record)
    a.removeEventListener('entry:delete', record)
  }
})

test('a stored write fires its local event even when handing it to gossip throws', async () => {
  const [a] = nodes
  // A send failure cannot be provoked with real parts (publish errors are asynchronous): stub it.
  const gossip = (a as unknown as { running: { gossip: { send: (rec: unknown) => void } } }).running.gossip
  const send = gossip.send
  gossip.send = () => { throw new Error('send failed') }
  const events: string[] = []
  const record = (evt: CustomEvent<{ type: string }>): void => { events.push(evt.detail.type) }
  const pending = (a as unknown as { pending: Map<string, unknown> }).pending
  a.addEventListener('entry:set', record)
  a.addEventListener('entry:delete', record)
  try {
    const failure = async (op: Promise<unknown>): Promise<string> => await op.then(() => 'resolved', (err: Error) => err.message)
    assert.is(await failure(a.put('send-fails', 'x', { ttl: 60_000 })), 'send failed')
    assert.is(text((await a.get('send-fails'))!.value), 'x', 'stored')
    assert.is(await failure(a.delete('send-fails')), 'send failed')
    assert.is(await a.get('send-fails'), undefined, 'deleted')
    assert.is(await failure(a.put('send-fails/quorum', 'y', { ttl: 60_000, quorum: 1, timeout: 60_000 })), 'send failed', 'a quorum put fails at once')
    assert.is(pending.size, 0, 'no quorum wait left behind')
    assert.equal(events, ['set', 'delete', 'set'])
  } finally {
    gossip.send = send
    a.removeEventListener('entry:set', record)
    a.removeEventListener('entry:delete', record)
  }
})

test('delete replicates as a tombstone and emits entry:delete on peers', async () => {
  const [a, b, c] = nodes
  await a.put('doomed', 'x', { ttl: 60_000 })
  await waitFor(async () => (await c.get('doomed')) !== undefined)
  const deleted = nextEvent<{ key: string, local: boolean }>(c, 'entry:delete', { filter: d => d.key === 'doomed' })
  assert.is(await b.delete('doomed'), true)
  assert.is((await deleted).local, false)
  await waitFor(async () => (await a.get('doomed')) === undefined && (await c.get('doomed')) === undefined, { message: 'delete to replicate' })
  assert.is(await b.delete('doomed'), false, 'deleting again reports it did not exist')
  assert.is(await b.delete('never-existed'), false)
})

test('entries expire on every node at the same absolute time', async () => {
  const [a, b, c] = nodes
  const expired = [b, c].map(n => nextEvent<{ key: string, expiresAt: number }>(n, 'entry:expire', { filter: d => d.key === 'short', timeout: 5000 }))
  const receipt = await a.put('short', 'soon gone', { ttl: 400 })
  await waitFor(async () => (await b.get('short')) !== undefined && (await c.get('short')) !== undefined)
  for (const evt of await Promise.all(expired)) {
    assert.is(evt.expiresAt, receipt.expiresAt)
    assert.ok(Date.now() >= receipt.expiresAt, 'not removed before its time')
  }
  for (const n of nodes) assert.is(await n.get('short'), undefined)
  assert.not.ok(a.keys().includes('short'))
})

test('a quorum put resolves with confirmations from other nodes', async () => {
  const [a] = nodes
  const receipt = await a.put('confirmed', 'v', { ttl: 60_000, quorum: 2, timeout: 5000 })
  assert.ok(receipt.confirmations >= 2, `confirmations ${receipt.confirmations}`)
})

test('a quorum put whose first confirmation is lost is confirmed by the peer\'s next one (acks are not dropped as duplicates)', async () => {
  const [a] = nodes
  type Validator = (from: unknown, msg: { data: Uint8Array }) => unknown
  const running = (a as unknown as { running: { topic: string, libp2p: { services: { pubsub: { topicValidators: Map<string, Validator> } } } } }).running
  const validators = running.libp2p.services.pubsub.topicValidators
  const validate = validators.get(running.topic)!
  let dropped = 0
  // The first ack message a receives is lost.
  validators.set(running.topic, (from, msg) => {
    if (msg.data[1] === Kind.ACKS && dropped === 0) {
      dropped++
      return TopicValidatorResult.Ignore
    }
    return validate(from, msg)
  })
  try {
    const receipt = await a.put('lost-ack', 'v', { ttl: 60_000, quorum: 2, timeout: 5000 })
    assert.is(receipt.confirmations, 2)
    assert.is(dropped, 1)
  } finally {
    validators.set(running.topic, validate)
  }
})

test('blocking a peer takes back the confirmations it gave writes still waiting for their quorum', async () => {
  const extra = await startNode({ bootstrap: [nodes[0].multiaddrs[0]] })
  try {
    const [a] = nodes
    await waitForPeers([a, extra])
    await waitForGossip(a, [a, extra])
    // Quorum 4 of 3 other nodes: waiting; extra confirms, then gets blocked.
    const put = a.put('blocked-ack', 'v', { ttl: 60_000, quorum: 4, timeout: 1500 })
      .then(() => undefined, (e: Error & { receipt?: { confirmations: number } }) => e)
    await waitFor(() => extra.getSync('blocked-ack') !== undefined, { message: 'extra to hold it' })
    const pending = (a as unknown as { pending: Map<string, { ackers: Set<string> }> }).pending
    await waitFor(() => [...pending.values()].some(p => p.ackers.has(extra.peerId)), { message: 'extra\'s confirmation' })
    await a.blockPeer(extra.peerId)
    assert.not.ok([...pending.values()].some(p => p.ackers.has(extra.peerId)), 'taken back at once')
    const err = await put
    assert.is(err?.name, 'QuorumNotReachedError')
    assert.is(err?.receipt?.confirmations, 2, 'the other two nodes only')
    a.unblockPeer(extra.peerId)
  } finally {
    await extra.stop()
  }
})

test('peerInfo lists where each peer listens, also for a peer that dialled in (not the port it dialled from)', async () => {
  const [a, b, c] = nodes
  for (const [node, peer] of [[a, b], [a, c], [b, a]] as const) {
    const info = node.peerInfo().find(p => p.peerId === peer.peerId)
    assert.ok(info !== undefined, `${peer.peerId} among the peers`)
    assert.equal(info.addresses, peer.multiaddrs, 'its listen addresses, each ending in /p2p/<id>')
  }
})

test('a quorum larger than the swarm rejects with QuorumNotReachedError, and the entry stays', async () => {
  const [a, b] = nodes
  try {
    await a.put('hopeful', 'v', { ttl: 60_000, quorum: 5, timeout: 500 })
    assert.unreachable('should have thrown')
  } catch (err: any) {
    assert.is(err.name, 'QuorumNotReachedError')
    assert.is(err.quorum, 5)
    assert.is(err.receipt.confirmations, 2)
    assert.is(err.stopped, false)
    assert.match(err.message, /got 2 of 5 confirmations in time; it is stored locally and still replicating/)
  }
  assert.is(text((await a.get('hopeful'))?.value), 'v')
  await waitFor(async () => (await b.get('hopeful')) !== undefined)
})

test('a quorum wait cut short by stop() says that the node stopped, and the entry stays', async () => {
  const alone = await startNode()
  try {
    const put = alone.put('interrupted', 'v', { ttl: 60_000, quorum: 1, timeout: 10_000 })
    await alone.stop()
    const err = await put.then(() => undefined, (e: any) => e)
    assert.is(err?.name, 'QuorumNotReachedError')
    assert.is(err.stopped, true)
    assert.match(err.message, /the node stopped while the write of "interrupted" waited for confirmations \(0 of 1\)/)
    await alone.start()
    assert.is(text((await alone.get('interrupted'))?.value), 'v')
  } finally {
    await alone.stop()
  }
})

test('an aborted quorum wait rejects with AbortError', async () => {
  const controller = new AbortController()
  const put = nodes[0].put('aborted', 'v', { ttl: 60_000, quorum: 9, timeout: 10_000, signal: controller.signal })
  controller.abort()
  try { await put; assert.unreachable() } catch (err: any) { assert.is(err.name, 'AbortError') }
})

test('watch() yields local and replicated changes for a prefix', async () => {
  const [a, b] = nodes
  const controller = new AbortController()
  const seen: string[] = []
  const done = (async () => {
    for await (const change of b.watch({ prefix: 'w/', signal: controller.signal })) {
      seen.push(`${change.type}:${change.key}`)
      if (seen.length === 3) controller.abort()
    }
  })()
  await a.put('w/1', 'one', { ttl: 60_000 })
  await a.put('other', 'ignored', { ttl: 60_000 })
  await waitFor(() => seen.length >= 1)
  await b.put('w/2', 'two', { ttl: 60_000 })
  await waitFor(async () => (await a.get('w/2')) !== undefined)
  await a.delete('w/1')
  await done
  assert.equal(seen, ['set:w/1', 'set:w/2', 'delete:w/1'])
})

test('getSync answers what get answers, at once', async () => {
  const [a, b] = nodes
  const receipt = await a.put('sync-read', 'now', { ttl: 60_000, contentType: 'text/plain' })
  const entry = await waitFor(async () => b.getSync('sync-read'), { message: 'sync-read to replicate' })
  assert.equal(entry, await b.get('sync-read'))
  assert.is(text(entry.value), 'now')
  assert.is(entry.version, receipt.version)
  assert.is(entry.contentType, 'text/plain')
  assert.is(b.getSync('never-written'), undefined)
})

test('isCurrent: an entry kept from get stays current until a newer write or a delete reaches the node', async () => {
  const [a, b] = nodes
  await a.put('kept', 'first', { ttl: 60_000 })
  const first = await waitFor(async () => b.getSync('kept'), { message: 'kept to replicate' })
  assert.ok(b.isCurrent(first))
  assert.not.ok(b.isCurrent({ ...first, version: first.version + '1' }), 'another version')
  assert.not.ok(b.isCurrent({ ...first, origin: b.peerId }), 'another writer')
  const second = await a.put('kept', 'second', { ttl: 60_000 })
  await waitFor(async () => b.getSync('kept')?.version === second.version, { message: 'the overwrite to replicate' })
  assert.not.ok(b.isCurrent(first), 'overwritten')
  const latest = b.getSync('kept')!
  assert.ok(b.isCurrent(latest))
  await a.delete('kept')
  await waitFor(async () => b.getSync('kept') === undefined, { message: 'the delete to replicate' })
  assert.not.ok(b.isCurrent(latest), 'deleted')
  for (const bad of [undefined, null, 'kept', {}, { ...latest, version: 7 }, { ...latest, createdAt: '0' }]) {
    assert.throws(() => b.isCurrent(bad as any), (err: Error) => err.name === 'InvalidArgumentError' && /an entry as get returns it/.test(err.message), JSON.stringify(bad))
  }
})

test('bad input is refused with named errors and changes nothing', async () => {
  const [a] = nodes
  const before = a.stats().entries
  const cases: Array<[() => Promise<unknown>, string]> = [
    [async () => await a.put('', 'x'), 'InvalidKeyError'],
    [async () => await a.put('k\u0000', 'x'), 'InvalidKeyError'],
    [async () => await a.put('x'.repeat(513), 'x'), 'InvalidKeyError'],
    [async () => await a.put('k', 'x', { ttl: 10 }), 'InvalidTtlError'],
    [async () => await a.put('k', 'x', { ttl: 1.5e12 }), 'InvalidTtlError'],
    [async () => await a.put('k', 'x', { ttl: Number.NaN }), 'InvalidTtlError'],
    [async () => await a.put('k', new Uint8Array(1024 * 1024 + 1)), 'ValueTooLargeError'],
    [async () => await a.put('k', 42 as any), 'InvalidValueError'],
    [async () => await a.put('k', 'x', { quorum: -1 }), 'InvalidArgumentError'],
    [async () => await a.get(7 as any), 'InvalidKeyError'],
    [async () => a.getSync(''), 'InvalidKeyError'],
    [async () => a.keys({ limit: 0 }), 'InvalidArgumentError'],
    [async () => a.keys({ limit: 1.5 }), 'InvalidArgumentError'],
    [async () => a.keys({ after: 7 as any }), 'InvalidArgumentError'],
    [async () => a.keys({ prefix: null as any }), 'InvalidArgumentError'],
    [async () => await a.put('k', 'x', { contentType: 'a\nb' }), 'InvalidArgumentError'],
    // Not an AbortSignal: refused before anything is stored or listened to (a quorum wait's timer
    // used to call removeEventListener on it later, an uncaught exception in the host app).
    [async () => await a.put('k', 'x', { quorum: 1, timeout: 50, signal: {} as any }), 'InvalidArgumentError'],
    [async () => await a.get('k', { signal: 'no' as any }), 'InvalidArgumentError'],
    [async () => await a.delete('k', { signal: null as any }), 'InvalidArgumentError'],
    [async () => { for await (const _ of a.watch({ signal: {} as any })) break }, 'InvalidArgumentError'],
    [async () => { for await (const _ of a.watch({ prefix: 5 as any })) break }, 'InvalidArgumentError'],
    [async () => { for await (const _ of a.watch({ prefix: null as any })) break }, 'InvalidArgumentError']
  ]
  for (const [call, name] of cases) {
    try { await call(); assert.unreachable(`expected ${name}`) } catch (err: any) { assert.is(err.name, name, err.message) }
  }
  assert.is(a.stats().entries, before)
  for (const type of ['entry:set', 'entry:delete', 'entry:expire']) assert.is(a.listenerCount(type), 0, `a refused watch() left a ${type} listener`)
})

test('a full store refuses puts with StoreFullError and keeps what it has', async () => {
  const small = await startNode({ maxEntries: 2 })
  try {
    await small.put('a', '1', { ttl: 60_000 })
    await small.put('b', '2', { ttl: 60_000 })
    try { await small.put('c', '3', { ttl: 60_000 }); assert.unreachable() } catch (err: any) { assert.is(err.name, 'StoreFullError') }
    await small.put('a', 'overwrite fits', { ttl: 60_000 })
    assert.equal(small.keys(), ['a', 'b'])
    assert.is(text((await small.get('b'))?.value), '2')
  } finally { await small.stop() }
})

test('calls before start() throw NotStartedError; start and stop are idempotent', async () => {
  const node = new RepramNode({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
  try { await node.put('k', 'v'); assert.unreachable() } catch (err: any) { assert.is(err.name, 'NotStartedError') }
  assert.throws(() => node.peerId, (err: Error) => err.name === 'NotStartedError')
  assert.throws(() => node.getSync('k'), (err: Error) => err.name === 'NotStartedError')
  assert.throws(() => node.isCurrent({ key: 'k', value: new Uint8Array(0), expiresAt: 1, createdAt: 0, version: '0.0', origin: 'A' }), (err: Error) => err.name === 'NotStartedError')
  await Promise.all([node.start(), node.start()])
  assert.ok(node.peerId.length > 10)
  assert.ok(node.multiaddrs.every(a => a.endsWith(`/p2p/${node.peerId}`)))
  await node.stop()
  await node.stop()
  assert.is(node.started, false)
})

test('watch() ends when the node stops, and needs a started node', async () => {
  const node = await startNode()
  const seen: string[] = []
  const loop = (async () => { for await (const c of node.watch()) seen.push(c.key) })()
  await node.put('before-stop', 'x', { ttl: 60_000 })
  await waitFor(() => seen.length === 1)
  await node.stop()
  await loop
  assert.equal(seen, ['before-stop'])
  try { await node.watch().next(); assert.unreachable() } catch (err: any) { assert.is(err.name, 'NotStartedError') }
})

test('watch() yields every change made before stop(), then ends, however slow its consumer', async () => {
  const node = await startNode()
  const seen: string[] = []
  const loop = (async () => {
    for await (const c of node.watch()) {
      seen.push(c.key)
      await new Promise(resolve => setTimeout(resolve, 20)) // a consumer that takes its time
    }
  })()
  for (let i = 0; i < 5; i++) await node.put(`slow/${i}`, 'x', { ttl: 60_000 })
  // The last write of a turn: its event fires once it has gone out, here during the stop.
  void node.put('slow/last', 'x', { ttl: 60_000 })
  await node.stop()
  await loop
  assert.equal(seen, ['slow/0', 'slow/1', 'slow/2', 'slow/3', 'slow/4', 'slow/last'])
})

test('watch() ends at a stop even when the node is started again before the loop looks', async () => {
  const node = await startNode()
  try {
    const seen: string[] = []
    let release!: () => void
    const busy = new Promise<void>(resolve => { release = resolve })
    let holding = false
    let ended = false
    const loop = (async () => {
      for await (const c of node.watch()) {
        seen.push(c.key)
        if (c.key === 'first') { holding = true; await busy } // the consumer is busy with it
      }
      ended = true
    })()
    await node.put('first', 'x', { ttl: 60_000 })
    await waitFor(() => holding, { message: 'the consumer to take the first change' })
    await node.stop()
    await node.start()
    await node.put('after-restart', 'x', { ttl: 60_000 })
    release()
    await waitFor(() => ended, { timeout: 5_000, message: 'the loop to end' })
    await loop
    assert.equal(seen, ['first'])
  } finally {
    await node.stop()
  }
})

test('a quorum put right after peer:join is confirmed', async () => {
  for (let round = 0; round < 3; round++) {
    const a = await startNode()
    const b = new RepramNode({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, bootstrap: [a.multiaddrs[0]] })
    try {
      const joined = nextEvent<{ peerId: string }>(b, 'peer:join')
      await b.start()
      assert.is((await joined).peerId, a.peerId)
      const receipt = await b.put(`eager/${round}`, 'v', { ttl: 60_000, quorum: 1, timeout: 5000 })
      assert.is(receipt.confirmations, 1)
    } finally { await stopAll([a, b]) }
  }
})

test('start() and stop() take effect in call order, and a stopped node starts again with its data', async () => {
  const node = new RepramNode({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
  await node.start()
  await node.put('kept', 'across restarts', { ttl: 60_000 })
  void node.stop()
  await node.start()
  assert.is(node.started, true, 'stop then start: started')
  assert.is(text((await node.get('kept'))?.value), 'across restarts')
  await Promise.all([node.stop(), node.stop()])
  assert.is(node.started, false)
})

test('a node alone accepts writes; they reach a peer that connects later', async () => {
  const lonely = await startNode()
  let friend: RepramNode | undefined
  try {
    await lonely.put('early', 'bird', { ttl: 60_000 })
    friend = await startNode({ bootstrap: [lonely.multiaddrs[0]] })
    const entry = await waitFor(async () => await friend!.get('early'), { message: 'sync to deliver the early write' })
    assert.is(text(entry.value), 'bird')
  } finally { await stopAll([lonely, friend]) }
})

test('a blocked peer\'s confirmations do not count toward a quorum, even relayed by another peer', async () => {
  const hub = await startNode()
  const a = await startNode({ bootstrap: [hub.multiaddrs[0]] })
  const b = await startNode({ bootstrap: [hub.multiaddrs[0]] })
  try {
    await waitForPeers([hub, a, b])
    await waitForGossip(a, [a, hub, b])
    await a.blockPeer(b.peerId)
    const both = await a.put('blocked/one', 'x', { ttl: 60_000, quorum: 1, timeout: 10_000 })
    assert.is(both.confirmations, 1, 'the hub confirms')
    try {
      await a.put('blocked/two', 'x', { ttl: 60_000, quorum: 2, timeout: 1500 })
      assert.unreachable('b, blocked, confirmed through the hub')
    } catch (err: any) {
      assert.is(err.name, 'QuorumNotReachedError', err.message)
      assert.is(err.receipt.confirmations, 1)
    }
    await waitFor(() => b.getSync('blocked/two') !== undefined, { message: 'the write to reach b through the hub (b did store it)' })
  } finally {
    await stopAll([hub, a, b])
  }
})

test('deleting a value that has expired but is not swept yet deletes nothing and sends nothing', async () => {
  let t = Date.now()
  const node = await startNode({ clock: () => t, minTtl: 50 })
  try {
    await node.put('lapsed', 'v', { ttl: 1000 })
    t += 5000
    const before = node.stats().counters
    assert.is(await node.delete('lapsed'), false)
    const after = node.stats().counters
    assert.is(after.deletesLocal, before.deletesLocal, 'not counted as a delete')
    assert.is(after.gossipSent, before.gossipSent, 'no tombstone published')
  } finally {
    await node.stop()
  }
})

test.run()
