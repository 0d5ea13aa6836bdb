/**
 * `RepramNode`: the facade that wires the store, replication and discovery
 * to one libp2p node.
 *
 * Data flow of a put: validate -> HLC version -> apply to the local store
 * (last writer wins) -> gossip batcher (the first write of an event-loop
 * turn is published at once) -> peers validate, apply, and (when the writer
 * asked for a quorum) ack over gossip. The local `entry:set` fires once the
 * writes of the event-loop turn have gone out (so just after `put` has
 * resolved), so a slow listener never holds them back.
 * Late joiners and healed partitions are caught up by the sync protocol.
 */
import { TypedEventEmitter } from 'main-event'
import { isMultiaddr, multiaddr } from '@multiformats/multiaddr'
import { logger } from '@libp2p/logger'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { MAX_KEY_BYTES_LIMIT, MAX_VALUE_BYTES_LIMIT, addrPeerId, canonicalPeerAddr, checkPeerAddr, resolveConfig } from './config.ts'
import { MemoryStore } from './store/memory-store.ts'
import { HybridClock, formatVersion, versionCounter } from './store/hlc.ts'
import { GossipReplicator } from './replication/gossip.ts'
import { SyncProtocol } from './replication/sync.ts'
import { newCounters } from './replication/counters.ts'
import { PeerDialer } from './discovery/dialer.ts'
import { DhtRendezvous } from './discovery/dht-rendezvous.ts'
import { createNetwork, protocolIds } from './network.ts'
import { cancelAddressUpdate } from './stop-timers.ts'
import { GossipLinks } from './replication/gossip-links.ts'
import { loadOrCreateIdentity } from './identity.ts'
import { claimIdentity } from './identity-claim.ts'
import { ListenerGuard } from './util/listener-guard.ts'
import { validateContentType, validateCount, validateKey, validateTtl, toValueBytes } from './validation.ts'
import { AbortError, InvalidArgumentError, InvalidConfigError, ListenError, NotStartedError, QuorumNotReachedError, StoreFullError, WatchOverflowError, throwIfAborted } from './errors.ts'
import type { Config, RepramNodeInit } from './config.ts'
import type { Change, Entry, KeysOptions, NodeStats, PutOptions, PutReceipt, RepramNodeEvents, WatchOptions, AbortOptions } from './types.ts'
import type { StoreRecord } from './store/memory-store.ts'
import type { Ack, WireRecord } from './replication/codec.ts'
import type { Counters } from './replication/counters.ts'
import type { PeerDialerInit } from './discovery/dialer.ts'
import type { RepramServices } from './network.ts'
import type { IdentifyResult, Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { EventHandler } from 'main-event'
import type { Listener } from './util/listener-guard.ts'

/** Default wait for quorum confirmations, ms. */
const DEFAULT_QUORUM_TIMEOUT = 5000
/** Writes waiting for their quorum are published again this often, ms, until confirmed. */
const QUORUM_RESEND_MS = 250
/** Changes a `watch()` consumer may fall behind before it is ended. */
const WATCH_BUFFER = 100_000

interface PendingQuorum {
  rec: WireRecord
  ackers: Set<string>
  needed: number
  /** Ends the wait; `stopped`: because the node stops. */
  done: (stopped?: boolean) => void
}

interface Running {
  libp2p: Libp2p<RepramServices>
  gossip: GossipReplicator
  sync: SyncProtocol
  dialer: PeerDialer
  links: GossipLinks
  dht?: DhtRendezvous
  /** Gives the identity file back (see identity-claim.ts), when one is used. */
  releaseIdentity?: () => Promise<void>
  topologyId: string
  topic: string
  antiEntropy?: ReturnType<typeof setInterval>
  startedAt: number
  peerId: string
  /** Set once stop() has finished with this run: its watch() loops end, after the changes made before. */
  ended: boolean
}

export class RepramNode extends TypedEventEmitter<RepramNodeEvents> {
  /** The validated options, defaults filled in. */
  readonly config: Readonly<Config>
  private readonly store: MemoryStore
  private readonly hlc: HybridClock
  private counters: Counters = newCounters()
  private running?: Running
  /** start() and stop() run one after the other, in call order. */
  private lifecycle: Promise<void> = Promise.resolve()
  private privateKey?: PrivateKey
  /** Peers that joined: connected with the sync protocol and subscribed to the topic. */
  private readonly repramPeers = new Set<string>()
  /** Peers connected with the sync protocol, joined or not yet subscribed. */
  private readonly connectedPeers = new Map<string, PeerId>()
  /** Where those peers listen, as they told us (identify), each ending in `/p2p/<id>`. */
  private readonly listenAddrs = new Map<string, string[]>()
  /** This network's sync protocol id: what makes a peer one of this network's nodes. */
  private readonly syncProtocol: string
  private readonly blocked = new Set<string>()
  private readonly pending = new Map<string, PendingQuorum>()
  /** Key events waiting for a local write's event before them (see `inOrder`). */
  private readonly events: Array<{ ready: boolean, fire: () => void }> = []
  /** Re-publishes writes still waiting for their quorum; armed only while there are any. */
  private quorumResend?: ReturnType<typeof setInterval>
  /** Wakes every running `watch()` loop (they end when the node stops). */
  private readonly watchers = new Set<() => void>()
  private readonly log = logger('repram:node')
  /** Listeners as registered: each behind a guard that keeps its failures from the process. */
  private readonly listenerGuard = new ListenerGuard((type, err) => { this.listenerFailed(type, err) })
  /** Event types whose listener failure was already reported as a process warning. */
  private readonly warnedTypes = new Set<string>()

  constructor (init: RepramNodeInit = {}) {
    super()
    this.config = Object.freeze(resolveConfig(init))
    this.syncProtocol = protocolIds(this.config.network).sync
    this.privateKey = this.config.privateKey
    this.hlc = new HybridClock(this.config.clock)
    this.store = new MemoryStore({
      clock: this.config.clock,
      maxEntries: this.config.maxEntries,
      maxBytes: this.config.maxBytes,
      refusedHideMs: this.config.maxClockSkew,
      // Share clock readings between back-to-back operations, but never
      // with a clock that the caller controls (tests move it by hand).
      clockReuse: this.config.clock === Date.now ? 64 : 0,
      onExpire: (key, expiresAt) => {
        this.counters.expired++
        if (this.listenerCount('entry:expire') > 0) this.inOrder(() => { this.emit('entry:expire', { type: 'expire', key, expiresAt }) })
      }
    })
  }

  get started (): boolean { return this.running !== undefined }

  /**
   * As `EventTarget.addEventListener`, except that a listener that throws
   * (or, async, rejects) cannot crash the process: the error is counted in
   * `stats().counters.backgroundErrors`, logged, and reported once per event
   * type as a process warning (`REPRAM_LISTENER_ERROR`).
   */
  override addEventListener<K extends keyof RepramNodeEvents> (type: K, listener: EventHandler<RepramNodeEvents[K]> | null, options?: boolean | EventListenerOptions & { once?: boolean, passive?: boolean, signal?: AbortSignal }): void {
    if (listener == null) return
    super.addEventListener(type, this.listenerGuard.wrap(type, listener as Listener), options)
  }

  override removeEventListener<K extends keyof RepramNodeEvents> (type: K, listener?: EventHandler<RepramNodeEvents[K]> | null, options?: boolean | EventListenerOptions): void {
    if (listener == null) return
    super.removeEventListener(type, this.listenerGuard.lookup(type, listener as Listener) ?? listener as EventHandler<RepramNodeEvents[K]>, options)
  }

  /** This node's peer id. Throws `NotStartedError` before `start()`. */
  get peerId (): string { return this.requireRunning().peerId }

  /** Addresses peers can dial, each ending in `/p2p/<peer id>`. */
  get multiaddrs (): string[] {
    return this.running?.libp2p.getMultiaddrs().map(String) ?? []
  }

  /** Connected peers of the same network, as peer id strings. */
  get peers (): string[] { return [...this.repramPeers] }

  /**
   * Connected peers of the same network with their addresses, each ending
   * in `/p2p/<id>`: where they listen, as they told us (a peer that dialled
   * in is connected from a port of its own, which nobody can dial), else
   * the addresses of the connections to them.
   */
  peerInfo (): Array<{ peerId: string, addresses: string[] }> {
    const libp2p = this.running?.libp2p
    if (libp2p === undefined) return []
    return this.peers.map(peerId => ({
      peerId,
      addresses: this.listenAddrs.get(peerId) ??
        [...new Set(libp2p.getConnections().filter(c => c.remotePeer.toString() === peerId).map(c => c.remoteAddr.toString()))]
    }))
  }

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const { peerId, listenAddrs, protocols } = evt.detail
    if (!protocols.includes(this.syncProtocol) || listenAddrs.length === 0) return
    const id = peerId.toString()
    this.listenAddrs.set(id, [...new Set(listenAddrs.map(a => {
      const text = a.toString()
      return addrPeerId(text) === undefined ? `${text}/p2p/${id}` : text
    }))])
  }

  /** Starts the node (idempotent). Calls to start() and stop() take effect in order. */
  async start (): Promise<void> {
    await this.serialize(async () => { if (this.running === undefined) await this.doStart() })
  }

  private async serialize (step: () => Promise<void>): Promise<void> {
    const next = this.lifecycle.then(step)
    this.lifecycle = next.catch(() => {})
    await next
  }

  private async doStart (): Promise<void> {
    const config = this.config
    if (this.privateKey === undefined) {
      this.privateKey = config.identityFile !== undefined
        ? await loadOrCreateIdentity(config.identityFile)
        : await generateKeyPair('Ed25519')
    }
    // One running node per identity file (see identity-claim.ts), given back at stop().
    const release = config.identityFile !== undefined ? await claimIdentity(config.identityFile) : undefined
    try {
      await this.startRun(this.privateKey, release)
    } catch (err) {
      await release?.()
      throw err
    }
  }

  private async startRun (privateKey: PrivateKey, releaseIdentity: (() => Promise<void>) | undefined): Promise<void> {
    const config = this.config
    // An announced address may end in this node's own /p2p/<id> (known only now), not another's.
    const self = peerIdFromPrivateKey(privateKey)
    for (const [i, addr] of config.announce.entries()) {
      const id = addrPeerId(addr)
      if (id !== undefined && !peerIdFromString(id).equals(self)) {
        throw new InvalidConfigError(`announce[${i}]`, `ends in /p2p/${id}, another peer's id than this node's (${self.toString()}): leave /p2p/<id> out`)
      }
    }
    const blocked = this.blocked
    const isBlocked = (peer: PeerId): boolean => blocked.has(peer.toString())
    // A peer that refused this node lately is not dialled, by libp2p's reconnect queue either (see discovery/dialer.ts).
    let refusing = (_peer: string): boolean => false
    const libp2p = await createNetwork(config, privateKey, {
      denyDialPeer: peer => isBlocked(peer) || refusing(peer.toString()),
      denyInboundEncryptedConnection: isBlocked,
      denyOutboundEncryptedConnection: isBlocked,
      // Again once upgraded: a block between the handshake and the muxer's negotiation.
      denyInboundUpgradedConnection: isBlocked,
      denyOutboundUpgradedConnection: isBlocked
    })
    const peerId = libp2p.peerId.toString()
    const ids = protocolIds(config.network)
    this.counters = newCounters()
    // Frames are decoded against the hard limits; this node's own (maybe
    // smaller) limits drop single records, not whole messages.
    const limits = { maxKeyBytes: MAX_KEY_BYTES_LIMIT, maxValueBytes: MAX_VALUE_BYTES_LIMIT }
    const bounds = { maxTtl: config.maxTtl, maxClockSkew: config.maxClockSkew, maxKeyBytes: config.maxKeyBytes, maxValueBytes: config.maxValueBytes }
    const gossip = new GossipReplicator({
      pubsub: libp2p.services.pubsub,
      topic: ids.topic,
      self: peerId,
      limits,
      bounds,
      clock: config.clock,
      counters: this.counters,
      log: logger('repram:gossip'),
      onRecords: (records) => { this.applyRemote(records, true) },
      onRefused: (records) => { this.applyRefused(records) },
      onAcks: (acker, acks) => { this.onAcks(acker, acks) }
    })
    const sync = new SyncProtocol({
      libp2p,
      protocol: ids.sync,
      store: this.store,
      idleTimeout: config.syncIdleTimeout,
      limits,
      bounds,
      clock: config.clock,
      counters: this.counters,
      log: logger('repram:sync'),
      onRecords: (records) => { this.applyRemote(records, false) },
      onRefused: (records) => { this.applyRefused(records) }
    })
    const dialer = new PeerDialer({
      libp2p,
      bootstrap: config.bootstrap,
      counters: this.counters,
      log: logger('repram:dialer'),
      isBlocked: id => blocked.has(id),
      mdns: libp2p.services.mdns as PeerDialerInit['mdns'],
      protocol: ids.sync,
      warn: message => { process.emitWarning(message, { code: 'REPRAM_PEER_MISMATCH' }) }
    })
    refusing = peer => dialer.isRefusing(peer)
    const links = new GossipLinks({
      libp2p,
      pubsub: libp2p.services.pubsub,
      log: logger('repram:gossip')
    })
    try {
      // The sync protocol is registered before the node listens: a peer connecting at once (a
      // restart, its peers redialling) learns it from identify, which it asks only once.
      await sync.start()
      await libp2p.start()
      gossip.start()
      const topologyId = await libp2p.register(ids.sync, {
        onConnect: (peer) => { this.onPeerConnect(peer) },
        onDisconnect: (peer) => { this.onPeerDisconnect(peer) }
      })
      dialer.start()
      links.start()
      libp2p.addEventListener('peer:identify', this.onIdentify)
      let dht: DhtRendezvous | undefined
      if (config.dht) {
        dht = new DhtRendezvous({ libp2p, network: config.network, log: logger('repram:dht'), dial: async (peer) => await dialer.dial(peer) })
        dht.start()
      }
      libp2p.services.pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
      this.running = { libp2p, gossip, sync, dialer, links, dht, releaseIdentity, topologyId, topic: ids.topic, startedAt: Date.now(), peerId, ended: false }
      if (config.syncInterval > 0) {
        this.running.antiEntropy = setInterval(() => { this.antiEntropy() }, config.syncInterval)
        this.running.antiEntropy.unref?.()
      }
      this.store.start()
      // A peer identified before the topology was registered (or before this
      // node was running) is not reported to it: look at those connected now.
      for (const connection of libp2p.getConnections()) {
        const peer = connection.remotePeer
        libp2p.peerStore.get(peer).then(p => {
          if (p.protocols.includes(ids.sync) && libp2p.getConnections(peer).length > 0) this.onPeerConnect(peer)
        }, () => {})
      }
      this.log('started %s on %a', peerId, libp2p.getMultiaddrs())
    } catch (err) {
      await sync.stop()
      await Promise.resolve(libp2p.stop()).catch(() => {})
      cancelAddressUpdate(libp2p)
      if ((err as Error).name === 'UnsupportedListenAddressesError') {
        // libp2p's message names each address with its cause, after a line of advice on libp2p's own options.
        const causes = (err as Error).message.split('\n').slice(1).map(l => l.trim()).filter(l => l !== '' && !l.startsWith('at '))
        throw new ListenError(`cannot listen on the configured addresses: ${causes.join('; ') || (err as Error).message}`)
      }
      throw err
    }
  }

  /** Stops the node (idempotent); stored entries stay, and start() may be called again. */
  async stop (): Promise<void> {
    await this.serialize(async () => { await this.doStop() })
  }

  private async doStop (): Promise<void> {
    const running = this.running
    if (running === undefined) return
    this.running = undefined
    clearInterval(running.antiEntropy)
    this.store.stop()
    running.dht?.stop()
    running.dialer.stop()
    running.links.stop()
    running.libp2p.unregister(running.topologyId)
    running.libp2p.services.pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    running.libp2p.removeEventListener('peer:identify', this.onIdentify)
    this.connectedPeers.clear()
    this.listenAddrs.clear()
    running.gossip.stop()
    for (const p of this.pending.values()) p.done(true)
    clearInterval(this.quorumResend)
    this.quorumResend = undefined
    await running.sync.stop()
    await Promise.resolve(running.libp2p.stop()).catch(err => { this.log.error("stopping libp2p failed - %e", err) })
    cancelAddressUpdate(running.libp2p)
    const left = [...this.repramPeers]
    this.repramPeers.clear()
    for (const peerId of left) this.emit('peer:leave', { peerId })
    await running.releaseIdentity?.()
    // Last: the events of the writes that went out while stopping have fired by now.
    running.ended = true
    for (const wake of this.watchers) wake()
  }

  /**
   * Stores `value` under `key` for `ttl` ms, here and on every peer.
   * Resolves once stored locally and on its way to the peers, or, with
   * `quorum`, once that many other nodes confirmed storing it. A write that
   * is the first of its event-loop turn has been handed to gossipsub's
   * streams by then, so code after `await put()` cannot delay it; writes
   * that follow it in the same turn resolve at once and go out together, in
   * one message, at the end of the turn.
   */
  async put (key: string, value: string | Uint8Array, opts: PutOptions = {}): Promise<PutReceipt> {
    throwIfAborted(opts.signal)
    const running = this.requireRunning()
    const config = this.config
    validateKey(key, config.maxKeyBytes)
    const ttl = validateTtl(opts.ttl ?? config.defaultTtl, config)
    const bytes = toValueBytes(value, config.maxValueBytes)
    const contentType = validateContentType(opts.contentType)
    const quorum = validateCount('quorum', opts.quorum, 0, 0, 1000)
    const timeout = validateCount('timeout', opts.timeout, DEFAULT_QUORUM_TIMEOUT, 1, 600_000)
    const full = this.store.checkCapacity(key, bytes.length, running.peerId, contentType)
    if (full !== undefined) throw new StoreFullError(`cannot store "${key}": ${full}`)

    const now = config.clock()
    const { wall, counter } = this.hlc.tick()
    const rec: WireRecord = { key, value: bytes, expiresAt: now + ttl, wall, counter, origin: running.peerId, contentType, guardUntil: 0 }
    const result = this.store.apply(rec, true)
    if (result.status === 'full') throw new StoreFullError(`cannot store "${key}": the store is full`)
    // From here on the record carries the store's own copy of the bytes:
    // whatever the caller does to `value` later, gossip sends what was stored.
    // (What the store says it stored, not what it holds now: an expire
    // listener run by this very write may have written the key again.)
    if (result.stored !== undefined) {
      rec.value = result.stored.value
      rec.guardUntil = result.stored.guardUntil
    } else {
      rec.value = bytes.slice() // not stored (a newer version is held): still sent, as the caller's bytes were
    }
    this.counters.putsLocal++

    const receipt: PutReceipt = { key, expiresAt: rec.expiresAt, version: formatVersion(wall, counter), confirmations: 0 }
    const emit = (): void => { this.emitSet(rec, rec.value!, true, receipt.version) }
    if (quorum === 0) {
      const sent = this.afterSend(running.gossip, () => running.gossip.send(rec), 'entry:set', emit)
      if (sent !== undefined) await sent
      return receipt
    }
    rec.ack = true
    // awaitQuorum sends before its first await.
    let sent = false
    const acked = this.awaitQuorum(rec, quorum, timeout, opts.signal, () => { running.gossip.send(rec); sent = true })
    if (!sent) this.inOrder(emit) // the send threw (awaitQuorum rejects with it): the write is stored all the same
    else this.afterSend(running.gossip, () => undefined, 'entry:set', emit)
    const { ackers, stopped } = await acked
    receipt.confirmations = ackers
    if (ackers < quorum) throw new QuorumNotReachedError(quorum, receipt, stopped)
    return receipt
  }

  /** The live entry under `key`, or `undefined` (absent, deleted or expired). */
  async get (key: string, opts: AbortOptions = {}): Promise<Entry | undefined> {
    throwIfAborted(opts.signal)
    return this.getSync(key)
  }

  /**
   * {@link get} without the promise: every entry is in this node's memory,
   * so the answer is ready at once (for hot paths such as an HTTP server
   * answering within the request event). Throws the same errors.
   */
  getSync (key: string): Entry | undefined {
    this.requireRunning()
    validateKey(key, this.config.maxKeyBytes)
    return this.store.get(key)
  }

  /**
   * Whether `entry`, as {@link get} returned it, is still what `get` would
   * return for its key: the same version, not expired. It builds nothing (no
   * view of the value, no version text), so re-checking a kept entry costs a
   * fraction of reading it again; the HTTP adapter answers repeated reads of
   * a key this way. Only the key, `createdAt`, `version` and `origin` are
   * compared; anything without them is refused with `InvalidArgumentError`.
   */
  isCurrent (entry: Entry): boolean {
    this.requireRunning()
    if (typeof entry?.key !== 'string' || typeof entry.version !== 'string' || typeof entry.origin !== 'string' || typeof entry.createdAt !== 'number') {
      throw new InvalidArgumentError('isCurrent expects an entry as get returns it (key, createdAt, version, origin)')
    }
    const counter = versionCounter(entry.version)
    return counter >= 0 && this.store.isCurrent(entry.key, entry.createdAt, counter, entry.origin)
  }

  /**
   * Deletes `key` everywhere with a replicated tombstone. Resolves to whether
   * this node held a live value, or knows of one it could not hold (a newer
   * version over its value limits), once the tombstone is on its way (as
   * for {@link put}). A key this node has never seen is left alone (there
   * is nothing it could supersede).
   */
  async delete (key: string, opts: AbortOptions = {}): Promise<boolean> {
    throwIfAborted(opts.signal)
    const running = this.requireRunning()
    validateKey(key, this.config.maxKeyBytes)
    const current = this.store.record(key)
    // Nothing live to supersede (an expired value not swept yet is as good as gone).
    const refused = current?.value === null && this.store.isRefused(key)
    if (current === undefined || (current.value === null && !refused) || current.expiresAt <= this.config.clock()) return false
    const { wall, counter } = this.hlc.tick()
    const horizon = Math.max(current.expiresAt, current.guardUntil)
    const tomb: WireRecord = { key, value: null, expiresAt: horizon, wall, counter, origin: running.peerId, guardUntil: horizon }
    const { hadValue } = this.store.apply(tomb)
    this.counters.deletesLocal++
    const sent = this.afterSend(running.gossip, () => running.gossip.send(tomb), 'entry:delete', () => {
      if (hadValue) this.emit('entry:delete', { type: 'delete', key, version: formatVersion(wall, counter), origin: running.peerId, local: true })
    })
    if (sent !== undefined) await sent
    return hadValue || refused
  }

  /**
   * Live keys in code-unit order, optionally only those starting with
   * `prefix`; page through many with `after` (the last key of the page
   * before) and `limit`.
   */
  keys (opts: KeysOptions = {}): string[] {
    const { prefix, after } = opts
    if (prefix !== undefined && typeof prefix !== 'string') throw new InvalidArgumentError(`prefix must be a string, got ${typeof prefix}`)
    if (after !== undefined && typeof after !== 'string') throw new InvalidArgumentError(`after must be a string, got ${typeof after}`)
    const limit = validateCount('limit', opts.limit, Infinity, 1, Number.MAX_SAFE_INTEGER)
    return this.store.keys(prefix ?? '', after, limit)
  }

  /**
   * Changes as they happen (sets, deletes, expiries; local and replicated),
   * optionally only for keys starting with `prefix`, until `signal` aborts,
   * the loop breaks, or the node stops (after the changes made before the
   * stop). Throws `NotStartedError` before `start()`.
   */
  async * watch (opts: WatchOptions = {}): AsyncGenerator<Change> {
    const signal = opts.signal
    throwIfAborted(signal)
    if (opts.prefix !== undefined && typeof opts.prefix !== 'string') throw new InvalidArgumentError(`prefix must be a string, got ${opts.prefix === null ? 'null' : typeof opts.prefix}`)
    const prefix = opts.prefix ?? ''
    // The run it watches: a stop ends the loop even when the node was started again before the loop looked.
    const running = this.requireRunning()
    const queue: Change[] = []
    let wake: (() => void) | undefined
    let overflow = false
    const onChange = (evt: CustomEvent<Change>): void => {
      // A change after this run ended belongs to a later run (a restart), not to this loop.
      if (running.ended || !evt.detail.key.startsWith(prefix)) return
      if (queue.length >= WATCH_BUFFER) overflow = true
      else queue.push(evt.detail)
      wake?.()
    }
    const onAbort = (): void => wake?.()
    const types = ['entry:set', 'entry:delete', 'entry:expire'] as const
    for (const t of types) this.addEventListener(t, onChange as any)
    signal?.addEventListener('abort', onAbort)
    this.watchers.add(onAbort)
    try {
      for (;;) {
        if (signal?.aborted === true || (running.ended && queue.length === 0)) return
        if (overflow) throw new WatchOverflowError(WATCH_BUFFER)
        const next = queue.shift()
        if (next !== undefined) { yield next; continue }
        await new Promise<void>(resolve => { wake = resolve })
        wake = undefined
      }
    } finally {
      for (const t of types) this.removeEventListener(t, onChange as any)
      signal?.removeEventListener('abort', onAbort)
      this.watchers.delete(onAbort)
    }
  }

  stats (): NodeStats {
    return {
      peerId: this.running?.peerId ?? '',
      network: this.config.network,
      started: this.running !== undefined,
      uptimeMs: this.running !== undefined ? Date.now() - this.running.startedAt : 0,
      entries: this.store.size,
      bytes: this.store.bytes,
      tombstones: this.store.markerCount,
      peers: this.repramPeers.size,
      counters: { ...this.counters }
    }
  }

  /**
   * Disconnects `peerId` and refuses connections with it until `unblockPeer`;
   * its confirmations of quorum writes stop counting. Its writes relayed by
   * other peers are still applied, as on every other node (last writer wins
   * the same way everywhere). A node it keeps connected (a bootstrap peer, a
   * `dial()`) backs off from this one, up to a dial a minute (see
   * discovery/dialer.ts). Anything but a peer id is refused with
   * `InvalidArgumentError`.
   */
  async blockPeer (peerId: string): Promise<void> {
    peerId = canonicalPeerId(peerId, 'blockPeer')
    this.blocked.add(peerId)
    // Its confirmations of writes still waiting for their quorum no longer count either.
    for (const p of this.pending.values()) p.ackers.delete(peerId)
    const libp2p = this.running?.libp2p
    if (libp2p === undefined) return
    await Promise.all(libp2p.getConnections().filter(c => c.remotePeer.toString() === peerId).map(async c => { await c.close().catch(() => {}) }))
  }

  /** Allows connections with `peerId` again, and dials it at once from the addresses known for it. */
  unblockPeer (peerId: string): void {
    peerId = canonicalPeerId(peerId, 'unblockPeer')
    if (!this.blocked.delete(peerId)) return
    // Dial it again now, from the addresses known for it, rather than at the next announcement or retry.
    void this.running?.dialer.redial(peerIdFromString(peerId))
  }

  /**
   * Runs a sync round with `peerId` now (normally automatic), or right after
   * the one already under way with it, so that it covers every write made
   * before the call. Resolves to whether the round completed: `false` when
   * the peer is not connected or the round failed (counted in
   * `stats().counters.syncFailures`, details in the `repram:sync` log).
   * Anything but a peer id is refused with `InvalidArgumentError`.
   */
  async syncWith (peerId: string): Promise<boolean> {
    peerId = canonicalPeerId(peerId, 'syncWith')
    const running = this.requireRunning()
    const peer = running.libp2p.getConnections().find(c => c.remotePeer.toString() === peerId)?.remotePeer
    return peer !== undefined && await running.sync.sync(peer)
  }

  /**
   * Dials a peer by multiaddr (ending in `/p2p/<id>`); resolves to whether
   * it is connected. Once connected, the peer is kept connected as a
   * bootstrap peer is (redialled after drops) until the node stops. A
   * malformed address throws `InvalidArgumentError`.
   */
  async dial (addr: string | Multiaddr): Promise<boolean> {
    const running = this.requireRunning()
    if (isMultiaddr(addr)) addr = addr.toString()
    const wrong = typeof addr === 'string' ? checkPeerAddr(addr, 'an address to dial') : 'expected a multiaddr'
    if (wrong !== undefined) throw new InvalidArgumentError(`cannot dial ${JSON.stringify(addr)}: ${wrong}`)
    const ma = multiaddr(canonicalPeerAddr(addr))
    const connected = await running.dialer.dial(ma)
    if (connected) running.dialer.keep(ma)
    return connected
  }

  // --- internals -------------------------------------------------------------

  private requireRunning (): Running {
    if (this.running === undefined) throw new NotStartedError()
    return this.running
  }

  /** Dispatches an event; its listeners cannot throw (see `addEventListener`). */
  private emit<K extends keyof RepramNodeEvents> (type: K, detail: RepramNodeEvents[K]['detail']): void {
    if (this.listenerCount(type) === 0) return
    this.safeDispatchEvent(type, { detail } as any)
  }

  private listenerFailed (type: string, err: unknown): void {
    this.counters.backgroundErrors++
    this.log.error('a %s listener threw - %e', type, err)
    if (this.warnedTypes.has(type)) return
    this.warnedTypes.add(type)
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err)
    process.emitWarning(`a "${type}" listener of a RepramNode threw; the error was caught, and later ones are only counted (stats().counters.backgroundErrors): ${detail}`,
      { code: 'REPRAM_LISTENER_ERROR' })
  }

  /**
   * Sends a local write (`send`) and runs `emit`, its event, once the
   * writes of the turn have gone out, so that listeners cannot hold them back.
   * The write is stored either way: when `send` throws, the event fires at
   * once and the error propagates to the caller. Returns what `send` did:
   * the promise of a publication that went out at once, which the caller
   * awaits before it resolves, so that the caller's own code after `await
   * put()` cannot hold the write back either.
   */
  private afterSend (gossip: GossipReplicator, send: () => Promise<void> | undefined, type: 'entry:set' | 'entry:delete', emit: () => void): Promise<void> | undefined {
    let sent: Promise<void> | undefined
    try {
      sent = send()
    } catch (err) {
      this.inOrder(emit)
      throw err
    }
    if (this.listenerCount(type) > 0) {
      const event = { ready: false, fire: emit }
      this.events.push(event)
      void gossip.turnSent().then(() => {
        event.ready = true
        this.drainEvents()
      })
    }
    return sent
  }

  /**
   * Runs `fire` (which emits a key event) now, or, while the event of a
   * local write still waits for its turn's writes to go out, after it: key
   * events reach listeners (and `watch()`) in the order the store made the
   * changes, even when a peer's newer write arrives in between.
   */
  private inOrder (fire: () => void): void {
    if (this.events.length === 0) fire()
    else this.events.push({ ready: true, fire })
  }

  private drainEvents (): void {
    while (this.events.length > 0 && this.events[0].ready) this.events.shift()!.fire()
  }

  /** Emits `entry:set` for `rec`, just applied; `value` is the store's copy of its bytes. */
  private emitSet (rec: StoreRecord, value: Uint8Array, local: boolean, version?: string): void {
    if (this.listenerCount('entry:set') === 0) return
    const entry: Entry = {
      key: rec.key,
      value,
      expiresAt: rec.expiresAt,
      createdAt: rec.wall,
      version: version ?? formatVersion(rec.wall, rec.counter),
      origin: rec.origin,
      contentType: rec.contentType
    }
    this.emit('entry:set', { type: 'set', key: rec.key, entry, local })
  }

  /** Applies validated records from a peer; acks those that asked (gossip only). */
  private applyRemote (records: WireRecord[], viaGossip: boolean): void {
    const running = this.running
    if (running === undefined) return
    for (const rec of records) {
      this.hlc.observe(rec.wall, rec.counter)
      if (rec.notice === true) {
        this.store.takeNotice(rec)
        continue
      }
      const { status, hadValue, stored } = this.store.apply(rec, rec.value !== null && this.listenerCount('entry:set') > 0)
      if (status === 'applied') {
        this.counters.replicatedApplied++
        if (rec.value !== null) {
          const value = stored?.value // (asked for only when someone listens)
          if (value !== undefined) this.inOrder(() => { this.emitSet(rec, value, false) })
        } else if (hadValue) {
          this.inOrder(() => { this.emit('entry:delete', { type: 'delete', key: rec.key, version: formatVersion(rec.wall, rec.counter), origin: rec.origin, local: false }) })
        }
        if (viaGossip && rec.ack === true && rec.value !== null) running.gossip.ack({ origin: rec.origin, wall: rec.wall, counter: rec.counter })
      } else if (status === 'stale') {
        this.counters.replicatedStale++
        // Already stored (e.g. a sync round was faster than gossip): still a confirmation.
        if (viaGossip && rec.ack === true && rec.value !== null) {
          const held = this.store.record(rec.key)
          if (held !== undefined && held.value !== null && held.wall === rec.wall && held.counter === rec.counter && held.origin === rec.origin) {
            running.gossip.ack({ origin: rec.origin, wall: rec.wall, counter: rec.counter })
          }
        }
      } else if (status === 'expired') {
        if (hadValue) this.inOrder(() => { this.emit('entry:expire', { type: 'expire', key: rec.key, expiresAt: rec.expiresAt }) })
      } else {
        this.counters.rejected++
        this.log('store full: dropped replicated write of "%s"', rec.key)
      }
    }
  }

  /**
   * Takes newer versions this node refuses for its own limits on values
   * (see `MemoryStore.refuse`): a value they supersede here goes, as by a
   * delete (listeners see `entry:delete` with the refused version).
   */
  private applyRefused (records: WireRecord[]): void {
    if (this.running === undefined) return
    // Nothing is kept here beyond this node's horizon: a version whose TTL
    // is over maxTtl leaves a marker only until then (its digest does not
    // depend on its expiry; the next exchange after that brings it again).
    const horizon = this.config.clock() + this.config.maxTtl + this.config.maxClockSkew
    for (const rec of records) {
      this.hlc.observe(rec.wall, rec.counter)
      const { status, hadValue } = this.store.refuse(rec.expiresAt > horizon ? { ...rec, expiresAt: horizon } : rec)
      if (status === 'applied' && hadValue) {
        this.inOrder(() => { this.emit('entry:delete', { type: 'delete', key: rec.key, version: formatVersion(rec.wall, rec.counter), origin: rec.origin, local: false }) })
      }
    }
  }

  private onAcks (acker: string, acks: Ack[]): void {
    const self = this.running?.peerId
    // A blocked peer's confirmations do not count (nor our own, relayed back).
    if (acker === self || this.blocked.has(acker)) return
    for (const ack of acks) {
      if (ack.origin !== self) continue
      const pending = this.pending.get(formatVersion(ack.wall, ack.counter))
      if (pending === undefined) continue
      pending.ackers.add(acker)
      if (pending.ackers.size >= pending.needed) pending.done()
    }
  }

  /** Waits until `needed` peers acked `version`; resolves to how many did. */
  private async awaitQuorum (rec: WireRecord, needed: number, timeout: number, signal: AbortSignal | undefined, send: () => void): Promise<{ ackers: number, stopped: boolean }> {
    const version = formatVersion(rec.wall, rec.counter)
    const ackers = new Set<string>()
    let aborted = false
    let stopped = false
    let finish = (): void => {}
    try {
      await new Promise<void>(resolve => {
        let timer: ReturnType<typeof setTimeout> | undefined
        const onAbort = (): void => { aborted = true; done() }
        function done (byStop = false): void {
          stopped ||= byStop
          clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }
        finish = done
        timer = setTimeout(done, timeout)
        signal?.addEventListener('abort', onAbort, { once: true })
        this.pending.set(version, { rec, ackers, needed, done })
        send()
        this.armQuorumResend()
      })
    } finally {
      finish() // also when `send` threw: no timer, listener or pending write is left behind
      this.pending.delete(version)
    }
    if (aborted) throw new AbortError()
    return { ackers: ackers.size, stopped }
  }

  /**
   * A first publication can be lost (a new peer's stream not open yet, a
   * subscription not known yet): until their quorum is reached, pending
   * writes go out again every `QUORUM_RESEND_MS`. Receivers that stored them
   * already ack again; nothing is applied twice.
   */
  private armQuorumResend (): void {
    if (this.quorumResend !== undefined) return
    this.quorumResend = setInterval(() => {
      const running = this.running
      if (running === undefined || this.pending.size === 0) {
        clearInterval(this.quorumResend)
        this.quorumResend = undefined
        return
      }
      running.gossip.resend([...this.pending.values()].map(p => p.rec))
    }, QUORUM_RESEND_MS)
    this.quorumResend.unref?.()
  }

  private onPeerConnect (peer: PeerId): void {
    const running = this.running
    const id = peer.toString()
    if (running === undefined || this.connectedPeers.has(id)) return
    if (this.blocked.has(id)) {
      // Connected as it was being blocked: blockPeer closed what it found then, this came later.
      for (const c of running.libp2p.getConnections(peer)) void c.close().catch(() => {})
      return
    }
    this.connectedPeers.set(id, peer)
    // One side starts the catch-up round; a round moves data both ways.
    if (running.peerId < id) void running.sync.sync(peer)
    if (running.gossip.subscribers().some(p => p.equals(peer))) this.join(id)
  }

  private onPeerDisconnect (peer: PeerId): void {
    const id = peer.toString()
    this.connectedPeers.delete(id)
    this.listenAddrs.delete(id)
    this.running?.sync.forget(id)
    if (!this.repramPeers.delete(id)) return
    this.log('peer left %p', peer)
    this.emit('peer:leave', { peerId: id })
  }

  /**
   * A peer's gossip subscription became known. Until then gossip to it goes
   * nowhere, so it joins only now, and writes still waiting for their
   * quorum go out again for it.
   */
  private readonly onSubscriptionChange = (evt: CustomEvent<{ peerId: PeerId, subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
    const running = this.running
    if (running === undefined) return
    const { peerId, subscriptions } = evt.detail
    if (!subscriptions.some(s => s.topic === running.topic && s.subscribe)) return
    const id = peerId.toString()
    if (this.connectedPeers.has(id)) this.join(id)
    if (this.pending.size > 0) running.gossip.resend([...this.pending.values()].map(p => p.rec))
  }

  private join (id: string): void {
    const running = this.running
    const peer = this.connectedPeers.get(id)
    if (running === undefined || peer === undefined || this.repramPeers.has(id) || this.blocked.has(id)) return
    this.repramPeers.add(id)
    this.log('peer joined %s', id)
    this.emit('peer:join', { peerId: id })
    // Writes made between the connection and now went to no one by gossip:
    // another round (a summary only, when nothing was missed) brings them.
    if (running.peerId < id) void running.sync.sync(peer)
  }

  private antiEntropy (): void {
    const running = this.running
    if (running === undefined || this.repramPeers.size === 0) return
    const peers = [...this.repramPeers]
    const pick = peers[Math.floor(Math.random() * peers.length)]
    const peer = running.libp2p.getConnections().find(c => c.remotePeer.toString() === pick)?.remotePeer
    if (peer !== undefined) void running.sync.sync(peer)
  }
}

/** `peerId` in the one text form peer ids are compared in; `InvalidArgumentError` when it is not a peer id. */
function canonicalPeerId (peerId: unknown, call: string): string {
  if (typeof peerId === 'string') {
    try {
      return peerIdFromString(peerId).toString()
    } catch {}
  }
  throw new InvalidArgumentError(`${call} expects a peer id (such as node.peerId), got ${typeof peerId === 'string' ? JSON.stringify(peerId.slice(0, 100)) : typeof peerId}`)
}
