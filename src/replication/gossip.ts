/**
 * Live replication over gossipsub.
 *
 * The first write of an event-loop turn is published at once; the writes
 * that follow in the same turn are queued and flushed at its end as one
 * RECORDS message (up to `MAX_BATCH_BYTES`), so a burst of puts costs a
 * couple of gossip messages, not one each, and a lone put waits for
 * nothing. Acks for writes that asked for them are batched the same way.
 * `turnSent` tells when the messages of the turn's writes have gone out
 * (gossipsub's `publish` hands a message to the peers' streams a few
 * microtasks after it is called): the node runs the listeners of its own
 * writes only then, so however slow they are, they hold back no write.
 *
 * Incoming messages pass the topic validator first: undecodable bytes make
 * the message `Reject`ed (not delivered, not forwarded, and the sender's
 * score drops). Records are then judged one by one: one that is oversized
 * for this node, has a version from the future, an expiry beyond `maxTtl`
 * + skew, or a key with control characters is dropped and counted. One that
 * expired in transit is still applied (it supersedes an older version held
 * here, which must go too), but a message with nothing live in it is not
 * passed on. A message with a record that broke a rule every node holds
 * to (a key with control characters) is rejected whole: forwarded, it would
 * cost the relay its score wherever the rest is refused. A message left with
 * nothing acceptable otherwise is ignored (neither delivered nor forwarded),
 * without cost to the sender, since a peer configured otherwise (larger
 * limits, a longer maximum TTL) or with its clock off sends such records in
 * good faith, and penalising it would cut this node off from an honest
 * relay. The decoded message is kept for the delivery handler so bytes are
 * decoded once: the one validated last in a field of its own (gossipsub
 * delivers a message right after validating it), any earlier one still
 * waiting in a `WeakMap`.
 *
 * Messages are unsigned (`StrictNoSign`, id = hash of the data): signing
 * would cost most of the throughput, and the writer's identity is in each
 * record anyway. Use `psk` to keep strangers out of a swarm.
 *
 * A message is at most about 3 MiB, under the 4 MiB frame every peer
 * accepts; gossipsub's answer to an IWANT, which puts every requested message
 * in one frame, is split to fit (see rpc-frames.ts).
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { decodeMessage, encodeAcks, encodeRecords, recordSize, Kind, MAX_ACKS_PER_MESSAGE, MAX_RECORDS_PER_MESSAGE } from './codec.ts'
import { breaksProtocol, checkRecord, overOwnLimits } from './validate.ts'
import type { Ack, Message, WireRecord } from './codec.ts'
import type { ReplicationContext } from './counters.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'

/** Largest gossip message we build; gossipsub frames are capped at 4 MiB. */
export const MAX_BATCH_BYTES = 1024 * 1024
/** Acks held while no subscriber is known. */
const MAX_HELD_ACKS = 10_000

export interface GossipReplicatorInit extends ReplicationContext {
  pubsub: GossipSub
  topic: string
  self: string
  onAcks: (acker: string, acks: Ack[]) => void
}

export class GossipReplicator {
  private readonly init: GossipReplicatorInit
  /** Decoded messages awaiting delivery: the last validated one, then the rest by their bytes. */
  private lastData?: Uint8Array
  private lastDecoded?: Message
  private readonly decoded = new WeakMap<Uint8Array, Message>()
  private batch: WireRecord[] = []
  private batchBytes = 0
  /** This turn's publications of writes so far. */
  private turnSends: Array<Promise<void>> = []
  /** What `turnSent` returned this turn, if it was asked. */
  private turnDone?: { promise: Promise<void>, resolve: () => void }
  private acks: Ack[] = []
  private flushScheduled = false
  /** Whether a write went out at once this turn (the ones after it are batched). */
  private wroteThisTurn = false
  private running = false

  constructor (init: GossipReplicatorInit) {
    this.init = init
  }

  start (): void {
    if (this.running) return
    this.running = true
    const { pubsub, topic } = this.init
    pubsub.topicValidators.set(topic, this.validate)
    pubsub.addEventListener('message', this.onMessage)
    pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    pubsub.subscribe(topic)
  }

  stop (): void {
    if (!this.running) return
    this.flush()
    this.running = false
    const { pubsub, topic } = this.init
    pubsub.removeEventListener('message', this.onMessage)
    pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    pubsub.topicValidators.delete(topic)
    this.lastData = this.lastDecoded = undefined
    try { pubsub.unsubscribe(topic) } catch {}
  }

  /** Peers known to be subscribed to the topic. */
  subscribers (): PeerId[] {
    return this.init.pubsub.getSubscribers(this.init.topic)
  }

  /**
   * Sends a record: the first of an event-loop turn goes out at once (no
   * added latency for a lone write); the ones that follow in the same turn
   * are batched into one message at the end of the turn. Returns, for a
   * record that went out at once, the promise of its publication (resolved
   * once gossipsub handed it to the peers' streams or failed to; never
   * rejects), else `undefined`.
   */
  send (rec: WireRecord): Promise<void> | undefined {
    const size = recordSize(rec)
    if (!this.wroteThisTurn && this.running) {
      this.wroteThisTurn = true
      const sent = this.publish(encodeRecords([rec], size))
      this.turnSends.push(sent)
      this.scheduleFlush()
      return sent
    }
    if ((this.batchBytes + size > MAX_BATCH_BYTES && this.batch.length > 0) || this.batch.length === MAX_RECORDS_PER_MESSAGE) this.publishBatch()
    this.batch.push(rec)
    this.batchBytes += size
    this.scheduleFlush()
    return undefined
  }

  /**
   * Resolves at the end of this event-loop turn, once every write sent in
   * it has been handed to gossipsub's streams (or its publication failed:
   * counted and logged); never rejects. Made only when asked for.
   */
  turnSent (): Promise<void> {
    if (this.turnDone === undefined) {
      let resolve = (): void => {}
      const promise = new Promise<void>(r => { resolve = r })
      this.turnDone = { promise, resolve }
      this.scheduleFlush()
    }
    return this.turnDone.promise
  }

  ack (ack: Ack): void {
    this.acks.push(ack)
    this.scheduleFlush()
  }

  /**
   * Publishes `records` again at once, for peers that subscribed after they
   * first went out or whose copy was lost (gossip keeps no history, and a
   * stream to a new peer may not be open yet). Peers that have them already
   * find them stale (and ack them again when asked to).
   */
  resend (records: WireRecord[]): void {
    if (!this.running) return
    let chunk: WireRecord[] = []
    let bytes = 0
    const flushChunk = (): void => {
      if (chunk.length > 0) void this.publish(encodeRecords(chunk, bytes, Math.floor(Math.random() * 0xffffffff)))
      chunk = []
      bytes = 0
    }
    for (const rec of records) {
      const size = recordSize(rec)
      if (bytes + size > MAX_BATCH_BYTES || chunk.length === MAX_RECORDS_PER_MESSAGE) flushChunk()
      chunk.push(rec)
      bytes += size
    }
    flushChunk()
  }

  /** Publishes everything queued now; ends the turn. */
  flush (): void {
    this.flushScheduled = false
    this.wroteThisTurn = false
    if (this.running) {
      if (this.batch.length > 0) this.publishBatch()
      // Acks have no other way to their writer: hold them (bounded) until
      // some peer's subscription is known, instead of publishing to no one.
      if (this.acks.length > 0 && this.subscribers().length > 0) {
        for (let i = 0; i < this.acks.length; i += MAX_ACKS_PER_MESSAGE) {
          void this.publish(encodeAcks(this.init.self, this.acks.slice(i, i + MAX_ACKS_PER_MESSAGE)))
        }
        this.acks = []
      } else if (this.acks.length > MAX_HELD_ACKS) {
        this.acks = this.acks.slice(-MAX_HELD_ACKS)
      }
    }
    const sends = this.turnSends
    const done = this.turnDone
    if (sends.length > 0) this.turnSends = []
    this.turnDone = undefined
    if (done !== undefined) void Promise.all(sends).then(done.resolve)
  }

  private publishBatch (): void {
    const data = encodeRecords(this.batch, this.batchBytes)
    this.batch = []
    this.batchBytes = 0
    this.turnSends.push(this.publish(data))
  }

  private scheduleFlush (): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => { this.flush() })
  }

  /** Publishes `data`; resolves once gossipsub handed it to the peers' streams or failed to (counted, logged). */
  private async publish (data: Uint8Array): Promise<void> {
    const { pubsub, topic, counters, log } = this.init
    counters.gossipSent++
    try {
      await pubsub.publish(topic, data)
    } catch (err) {
      counters.backgroundErrors++
      log.error('publishing %d bytes failed - %e', data.length, err)
    }
  }

  private readonly onSubscriptionChange = (): void => {
    if (this.acks.length > 0) this.scheduleFlush()
  }

  private readonly validate = (from: PeerId, msg: { data: Uint8Array }): TopicValidatorResult => {
    const { limits, bounds, clock, counters, log } = this.init
    let message: Message
    try {
      message = decodeMessage(msg.data, limits)
    } catch (err) {
      counters.rejected++
      log('rejected a malformed message from %p: %s', from, (err as Error).message)
      return TopicValidatorResult.Reject
    }
    if (message.kind === Kind.RECORDS) {
      // Each record is judged on its own: one this node cannot take (its
      // limits may be smaller than the writer's) does not cost the others.
      // One that expired in transit (or by a clock a little ahead of the
      // writer's) is still a newer version: it goes to the store, which
      // removes an older value it supersedes (leaving a marker while that
      // value could live elsewhere) and keeps nothing else.
      const now = clock()
      const accepted: WireRecord[] = []
      let expired: WireRecord[] | undefined
      let refused: WireRecord[] | undefined
      let foul = 0
      for (const rec of message.records) {
        if (rec.notice === true) {
          // Notices travel by sync only: no honest node gossips one.
          counters.rejected++
          foul++
          log('dropped a notice of "%s" from %p: notices are not gossiped', rec.key, from)
          continue
        }
        const verdict = checkRecord(rec, now, bounds)
        if (verdict === 'ok') { accepted.push(rec); continue }
        if (verdict === 'expired') { (expired ??= []).push(rec); continue }
        counters.rejected++
        if (breaksProtocol(verdict)) foul++
        else if (overOwnLimits(verdict)) (refused ??= []).push(rec)
        log('dropped record "%s" from %p: %s', rec.key, from, verdict)
      }
      // A record no honest node sends rejects the whole message (forwarded, it
      // would cost the relay its score wherever the rest is refused). A
      // message with nothing live is not passed on (its values are past
      // their time), at no cost to its sender; what it supersedes here goes.
      if (foul > 0) return TopicValidatorResult.Reject
      // A newer version over this node's limits still supersedes older ones here.
      if (refused !== undefined) this.deliver(refused, true)
      if (accepted.length === 0) {
        if (expired !== undefined) this.deliver(expired)
        return TopicValidatorResult.Ignore
      }
      message.records = expired === undefined ? accepted : accepted.concat(expired)
    } else if (message.kind !== Kind.ACKS) {
      counters.rejected++
      log('rejected a message of kind %d from %p on the gossip topic', message.kind, from)
      return TopicValidatorResult.Reject
    }
    if (this.lastData !== undefined) this.decoded.set(this.lastData, this.lastDecoded!)
    this.lastData = msg.data
    this.lastDecoded = message
    return TopicValidatorResult.Accept
  }

  private readonly onMessage = (evt: CustomEvent<{ topic: string, data: Uint8Array }>): void => {
    const msg = evt.detail
    if (msg.topic !== this.init.topic) return
    let message: Message | undefined
    if (msg.data === this.lastData) {
      message = this.lastDecoded
      this.lastData = this.lastDecoded = undefined
    } else {
      message = this.decoded.get(msg.data)
      this.decoded.delete(msg.data)
    }
    if (message === undefined) {
      // Delivered without passing through our validator (should not happen): check it here.
      try { message = decodeMessage(msg.data, this.init.limits) } catch { return }
      if (message.kind === Kind.RECORDS) {
        const now = this.init.clock()
        if (message.records.some(r => { const v = checkRecord(r, now, this.init.bounds); return v !== 'ok' && v !== 'expired' })) return
      }
    }
    this.init.counters.gossipReceived++
    if (message.kind === Kind.RECORDS) {
      if (message.records.length > 0) this.deliver(message.records)
    } else if (message.kind === Kind.ACKS) {
      try {
        this.init.onAcks(message.acker, message.acks)
      } catch (err) {
        this.init.counters.backgroundErrors++
        this.init.log.error('applying a gossip message failed - %e', err)
      }
    }
  }

  /** Hands records to the node (`refused`: over its own limits); a failure is counted and logged, never thrown into gossipsub. */
  private deliver (records: WireRecord[], refused = false): void {
    try {
      if (refused) this.init.onRefused(records, 'gossip')
      else this.init.onRecords(records, 'gossip')
    } catch (err) {
      this.init.counters.backgroundErrors++
      this.init.log.error('applying a gossip message failed - %e', err)
    }
  }
}
