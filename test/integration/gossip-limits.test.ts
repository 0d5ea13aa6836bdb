/**
 * Gossip against what a hostile or broken peer can send, with real nodes on
 * loopback: the topic validator's verdicts on crafted messages (fed to it as
 * the bytes a peer would send), and the replicator splitting what it sends
 * so that no message exceeds the per-message limits its peers enforce.
 */
import { createHash } from 'node:crypto'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { logger } from '@libp2p/logger'
import { encodeRecords, decodeMessage, Kind, MAX_ACKS_PER_MESSAGE, MAX_RECORDS_PER_MESSAGE } from '../../src/replication/codec.ts'
import { GossipReplicator } from '../../src/replication/gossip.ts'
import { newCounters } from '../../src/replication/counters.ts'
import { startCluster, stopAll, text, waitForGossip, waitForPeers } from '../helpers/nodes.ts'
import { waitFor } from '../helpers/wait.ts'
import type { RepramNode } from '../../src/index.ts'
import type { Message, WireRecord } from '../../src/replication/codec.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'

const test = suite('gossip limits')
let nodes: RepramNode[] = []

interface Internals {
  running: { libp2p: { peerId: PeerId, services: { pubsub: GossipSub } }, gossip: { validate: (from: PeerId, msg: { data: Uint8Array }) => TopicValidatorResult } }
}
const internals = (n: RepramNode): Internals => n as unknown as Internals

test.before(async () => {
  nodes = await startCluster(2)
  await waitForPeers(nodes)
  await waitForGossip(nodes[0], nodes)
})
test.after(async () => { await stopAll(nodes) })

/** A replicator on a topic of its own over `node`'s real gossipsub, applying nothing. */
function testReplicator (node: RepramNode, topic: string): GossipReplicator {
  return new GossipReplicator({
    pubsub: internals(node).running.libp2p.services.pubsub,
    topic,
    self: node.peerId,
    limits: { maxKeyBytes: 1024, maxValueBytes: 1024 },
    bounds: { maxTtl: 3_600_000, maxClockSkew: 60_000 },
    clock: Date.now,
    counters: newCounters(),
    log: logger('test:gossip-limits'),
    onRecords: () => {},
    onRefused: () => {},
    onAcks: () => {}
  })
}

const record = (over: Partial<WireRecord>): WireRecord => {
  const now = Date.now()
  return { key: 'k', value: new Uint8Array(1), expiresAt: now + 60_000, wall: now, counter: 0, origin: 'A', guardUntil: 0, ...over }
}

test('the validator: records this node cannot take are ignored, a key no node takes rejects its whole message, a mix keeps the good records, too many records are rejected', () => {
  const [a, b] = nodes
  const from = internals(b).running.libp2p.peerId
  const validate = (records: WireRecord[]): TopicValidatorResult => internals(a).running.gossip.validate(from, { data: encodeRecords(records) })
  const before = a.stats().counters.rejected

  // A message whose records have all expired is not passed on, at no cost to its sender.
  const expired = Array.from({ length: 1000 }, (_, i) => record({ key: `gone/${i}`, wall: 1, expiresAt: 2 }))
  assert.is(validate(expired), TopicValidatorResult.Ignore)
  // A key no node accepts costs the sender.
  assert.is(validate([record({ key: 'evil\u0000\u001b[2J' })]), TopicValidatorResult.Reject)
  // So does a content type no put accepts (it could split the header it is sent in).
  assert.is(validate([record({ key: 'ctype', contentType: 'text/plain\r\nSet-Cookie: a=b' })]), TopicValidatorResult.Reject)
  // Records beyond this node's own settings (a peer with a clock ahead, larger limits, a longer
  // maximum TTL) are dropped without penalising the peer that relayed them.
  assert.is(validate([record({ key: 'future', wall: Date.now() + 3_600_000 })]), TopicValidatorResult.Ignore)
  assert.is(validate([record({ key: 'large', value: new Uint8Array(a.config.maxValueBytes + 1) })]), TopicValidatorResult.Ignore)
  assert.is(validate([record({ key: 'long-lived', expiresAt: Date.now() + a.config.maxTtl + 3_600_000 })]), TopicValidatorResult.Ignore)
  // Good records travel; the ones beside them that this node cannot take are dropped alone.
  assert.is(validate([record({ key: 'limits/good' }), record({ key: 'large', value: new Uint8Array(a.config.maxValueBytes + 1) }), ...expired.slice(0, 3)]), TopicValidatorResult.Accept)
  // Beside a key no node takes, the whole message is refused: forwarded, it would cost the
  // relay its score on every node that refuses the rest.
  assert.is(validate([record({ key: 'limits/good' }), record({ key: 'bad\n' }), ...expired.slice(0, 3)]), TopicValidatorResult.Reject)
  // Notices travel by sync only: one in a gossip message refuses it all the same.
  assert.is(validate([record({ key: 'limits/good' }), record({ key: 'notice', value: null, notice: true })]), TopicValidatorResult.Reject)
  // More records than any honest message holds: refused before they are looked at.
  const many = Array.from({ length: MAX_RECORDS_PER_MESSAGE + 1 }, (_, i) => record({ key: `m${i}`, value: null }))
  assert.is(validate(many), TopicValidatorResult.Reject)
  assert.is(a.stats().counters.rejected - before, 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1, 'every dropped record and the undecodable message counted, expired ones not')
})

test('a newer version that expired in transit still removes the older value it supersedes', async () => {
  const [a, b] = nodes
  const from = internals(b).running.libp2p.peerId
  const validate = (records: WireRecord[]): TopicValidatorResult => internals(a).running.gossip.validate(from, { data: encodeRecords(records) })
  // a holds v1, long-lived; v2 is newer and comes in expired (its writer's clock a little behind, say).
  await a.put('limits/superseded', 'v1', { ttl: 60_000 })
  const v1 = a.getSync('limits/superseded')!
  const markers = a.stats().tombstones
  const v2 = record({ key: 'limits/superseded', wall: v1.createdAt + 1, expiresAt: Date.now() - 1, origin: b.peerId })
  assert.is(validate([v2]), TopicValidatorResult.Ignore, 'nothing live to pass on')
  assert.is(a.getSync('limits/superseded'), undefined, 'v1 is gone: v2 superseded it')
  assert.is(a.stats().tombstones, markers + 1, 'a marker keeps v1 from coming back while it could live elsewhere')
  // An expired record older than what is held changes nothing.
  await a.put('limits/kept', 'v1', { ttl: 60_000 })
  const kept = a.getSync('limits/kept')!
  assert.is(validate([record({ key: 'limits/kept', wall: kept.createdAt - 1, expiresAt: Date.now() - 1, origin: b.peerId })]), TopicValidatorResult.Ignore)
  assert.is(text(a.getSync('limits/kept')?.value), 'v1')
})

test('a replicated key with a control character is never stored (it could be neither read nor deleted here), nor the message that carried it', async () => {
  const [a, b] = nodes
  const pubsub = internals(b).running.libp2p.services.pubsub
  const topic = [...pubsub.getTopics()].find(t => t.includes('entries'))!
  await pubsub.publish(topic, encodeRecords([record({ key: 'evil\u001b[2J', origin: b.peerId }), record({ key: 'limits/beside-evil', origin: b.peerId })]))
  await pubsub.publish(topic, encodeRecords([record({ key: 'limits/fine', origin: b.peerId })]))
  await waitFor(async () => await a.get('limits/fine'), { message: 'the next message to arrive' })
  assert.equal(a.keys({ prefix: 'evil' }), [])
  assert.is(a.getSync('limits/beside-evil'), undefined, 'the message was refused whole')
})

test('what the replicator sends is split so that no message has more records or acks than a peer accepts', async () => {
  const [a, b] = nodes
  // A replicator on a topic of its own over a's real gossipsub, and b listening on that topic.
  const topic = `test/limits/${Math.random().toString(36).slice(2)}`
  const sender = internals(a).running.libp2p.services.pubsub
  const listener = internals(b).running.libp2p.services.pubsub
  const received: Message[] = []
  const onMessage = (evt: CustomEvent<{ topic: string, data: Uint8Array }>): void => {
    if (evt.detail.topic === topic) received.push(decodeMessage(evt.detail.data, { maxKeyBytes: 1024, maxValueBytes: 1024 }))
  }
  listener.addEventListener('message', onMessage)
  listener.subscribe(topic)
  const replicator = testReplicator(a, topic)
  replicator.start()
  try {
    await waitFor(() => sender.getSubscribers(topic).some(p => p.equals(internals(b).running.libp2p.peerId)), { message: 'b subscribed to the test topic' })
    // Tiny records (a one-byte origin, which no real node has) and acks, more than one message holds.
    const count = MAX_RECORDS_PER_MESSAGE + 10
    replicator.resend(Array.from({ length: count }, (_, i) => record({ key: `r${i}`, value: null })))
    for (let i = 0; i < MAX_ACKS_PER_MESSAGE + 10; i++) replicator.ack({ origin: 'A', wall: 1, counter: i })
    replicator.flush()
    await waitFor(() => received.length >= 4, { timeout: 20_000, message: `4 messages on the test topic (got ${received.length})` })
    const recordCounts = received.filter(m => m.kind === Kind.RECORDS).map(m => (m as Extract<Message, { kind: 1 }>).records.length)
    const ackCounts = received.filter(m => m.kind === Kind.ACKS).map(m => (m as Extract<Message, { kind: 2 }>).acks.length)
    assert.equal(recordCounts.sort((x, y) => y - x), [MAX_RECORDS_PER_MESSAGE, 10])
    assert.equal(ackCounts.sort((x, y) => y - x), [MAX_ACKS_PER_MESSAGE, 10])
  } finally {
    replicator.stop()
    listener.removeEventListener('message', onMessage)
    listener.unsubscribe(topic)
  }
})

test('the first write of a turn goes out at once even when an ack or a caller already opened the turn', async () => {
  const [a] = nodes
  const topic = `test/turn/${Math.random().toString(36).slice(2)}`
  const replicator = testReplicator(a, topic)
  replicator.start()
  try {
    replicator.ack({ origin: 'A', wall: 1, counter: 0 }) // schedules the end of the turn
    const first = replicator.send(record({ key: 'turn/first' }))
    const second = replicator.send(record({ key: 'turn/second' }))
    assert.ok(first instanceof Promise, 'the first write went out at once')
    assert.is(second, undefined, 'the next one of the same turn is batched')
    await first
    await new Promise(resolve => setImmediate(resolve)) // the turn ends
    assert.ok(replicator.send(record({ key: 'turn/next' })) instanceof Promise, 'a new turn, a write at once again')
  } finally {
    replicator.stop()
  }
})

test('an IWANT for several large messages is answered in frames a peer accepts, and gossip between the two goes on', async () => {
  const [a, b] = nodes
  const aLibp2p = internals(a).running.libp2p
  const listener = internals(b).running.libp2p.services.pubsub
  const topic = [...listener.getTopics()].find(t => t.includes('entries'))!
  // What b receives from a, RPC by RPC, as it comes off the wire.
  const rpcs: Array<{ messages: Array<{ data?: Uint8Array }> }> = []
  const hooked = listener as unknown as { handleReceivedRpc: (from: PeerId, rpc: { messages: Array<{ data?: Uint8Array }> }) => Promise<void> }
  const handleReceivedRpc = hooked.handleReceivedRpc
  hooked.handleReceivedRpc = async (from, rpc) => {
    if (from.equals(aLibp2p.peerId)) rpcs.push(rpc)
    await handleReceivedRpc.call(listener, from, rpc)
  }
  // Message ids as these nodes make them (unsigned messages: the SHA-256 of the data).
  const ids: Uint8Array[] = []
  const onMessage = (evt: CustomEvent<{ topic: string, data: Uint8Array }>): void => {
    if (evt.detail.topic === topic && evt.detail.data.length > 500_000) ids.push(createHash('sha256').update(evt.detail.data).digest())
  }
  listener.addEventListener('message', onMessage)
  try {
    // Five writes of 900 KiB, each its own message: together more than the 4 MiB frame every node accepts.
    for (let i = 0; i < 5; i++) await a.put(`iwant/${i}`, new Uint8Array(900 * 1024).fill(i), { ttl: 60_000 })
    await waitFor(() => ids.length === 5, { message: `the five messages on b (got ${ids.length})` })
    // b asks a for all five at once, as a peer does for messages it heard of (IHAVE) but has not received.
    const sent = (listener as unknown as { sendRpc: (id: string, rpc: unknown) => boolean }).sendRpc(aLibp2p.peerId.toString(), {
      subscriptions: [], messages: [], control: { ihave: [], iwant: [{ messageIDs: ids }], graft: [], prune: [], idontwant: [] }
    })
    assert.ok(sent, 'the IWANT went out')
    const large = (rpc: { messages: Array<{ data?: Uint8Array }> }): number => rpc.messages.filter(m => (m.data?.length ?? 0) > 500_000).length
    const before = rpcs.length
    // All five arrive (as duplicates, which b drops), in frames of at most 4 MiB: more than one.
    await waitFor(() => rpcs.slice(before).reduce((n, rpc) => n + large(rpc), 0) === 5, {
      timeout: 10_000,
      message: `a's answer to the IWANT (got ${rpcs.slice(before).reduce((n, rpc) => n + large(rpc), 0)} of 5 messages)`
    })
    assert.ok(rpcs.slice(before).filter(rpc => large(rpc) > 0).length >= 2, 'the answer came in more than one RPC')
    // And b keeps a as a gossip peer.
    await a.put('iwant/after', new Uint8Array([1]), { ttl: 60_000 })
    await waitFor(async () => await b.get('iwant/after'), { timeout: 10_000, message: 'a write after the IWANT answer reaches b by gossip' })
    assert.ok(listener.getPeers().some(p => p.equals(aLibp2p.peerId)), 'b still has a as a gossip peer')
  } finally {
    listener.removeEventListener('message', onMessage)
    hooked.handleReceivedRpc = handleReceivedRpc
  }
})

test.run()
