/**
 * Turns discovered and configured peers into connections. libp2p does not
 * dial discovered peers by itself, and the stock bootstrap module dials
 * once and gives up, so this module:
 *
 * - dials every peer that a discovery mechanism (mDNS, DHT rendezvous)
 *   reports, unless already connected, retrying with backoff when the first
 *   dials fail, and tags it `KEEP_ALIVE` so libp2p's reconnect queue
 *   redials it after a short drop;
 * - dials a peer mDNS announces whenever it is not connected to it. libp2p
 *   reports a peer as discovered only once, when it enters the peer store,
 *   and its reconnect queue gives up after five tries (about 31 s): without
 *   this, a LAN partition or a sleep longer than that would never heal. A
 *   peer that stops being announced (it left) is not dialled again. After
 *   such a dial fails, the peer's announcements are skipped for a backoff
 *   that starts at 1.5 s and doubles per consecutive failure up to 60 s: a
 *   peer that is announced but cannot be connected to (another `psk`, an
 *   unreachable address) then costs a dial, a log line and a `dialFailures`
 *   count a minute rather than one at every announcement (10 s by default).
 *   A partition that stops multicast too (a cable, a lost Wi-Fi) stops the
 *   announcements, so no dial fails and there is nothing to back off from;
 *   one that lets multicast through heals within the longest backoff (60 s)
 *   plus one announcement interval and one failed dial's time after it
 *   ends (the backoff runs from the end of the failed dial, and the next
 *   dial waits for the next announcement).
 *   The start is short, so that retries come at 1.5, 4.5, 10.5, 22.5 s...
 *   after the first failure, between the redials of libp2p's reconnect
 *   queue (1, 3, 7, 15, 31 s after a drop) rather than on them. Any
 *   connection with the peer that identify runs over (a dial of ours, or
 *   the peer dialling us) resets its backoff. At most 1,024 failing peers are
 *   remembered; beyond that the one whose last failure is oldest is
 *   forgotten (its next announcement is dialled);
 * - keeps one loop per bootstrap peer, and per peer dialled through `keep`
 *   (a node's `dial()`), that dials it with exponential backoff (0.25 s
 *   doubling up to 30 s) whenever it is not connected, for as long as the
 *   node runs: the order nodes start in does not matter, and a peer that
 *   was away is found again. A peer given with several addresses (IPv4 and
 *   IPv6, a name and an address) is dialled at each in turn, one per
 *   attempt. While the peer is blocked no dial is made and the backoff stays
 *   as it was; `redial` (an unblock) dials it at once.
 *
 * A dial counts as connected once identify has run over the connection
 * (or it has stayed open for `IDENTIFY_WAIT_MS` without identify). A peer
 * that closes a connection before identify ran on it is refusing this node:
 * a node that blocked it does exactly that, after the handshake, the first
 * point where it knows who is dialling. The connection looked open, so
 * without this check every loop above, and libp2p's reconnect queue, would
 * see a success and dial again at once, dozens of handshakes a second for
 * as long as both run. Instead the peer's `KEEP_ALIVE` tag is removed and
 * no dial to it is made (the connection gater refuses them, libp2p's own
 * included) for a backoff that starts at 1.5 s and doubles per refusal up
 * to 60 s. A connection with the peer that gets identified (the peer
 * dialling this node after unblocking it, say) ends the backoff.
 *
 * Failures are logged and counted, never thrown.
 */
import { KEEP_ALIVE } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { sleep } from '../util/sleep.ts'
import { BackoffTable } from './backoff.ts'
import type { Connection, IdentifyResult, Libp2p, Logger, PeerId, PeerInfo, TypedEventTarget } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Counters } from '../replication/counters.ts'

const BACKOFF_MIN_MS = 250
const BACKOFF_MAX_MS = 30_000
const DIAL_TIMEOUT_MS = 10_000
/** Dial attempts for a discovered peer (about 5 minutes with the backoff). */
const DISCOVERED_ATTEMPTS = 16
/** Announcements of a peer are skipped for this long after its first failed announcement-driven dial, ms. */
export const ANNOUNCED_BACKOFF_MIN_MS = 1_500
/** The announcement backoff doubles per consecutive failure up to this, ms. */
export const ANNOUNCED_BACKOFF_MAX_MS = 60_000
/** No dial to a peer for this long after it first closed a connection before identify, ms. */
export const REFUSED_BACKOFF_MIN_MS = 1_500
/** The refusal backoff doubles per refusal up to this, ms. */
export const REFUSED_BACKOFF_MAX_MS = 60_000
/** How long a dial waits for identify over its new connection before counting it as connected anyway, ms. */
const IDENTIFY_WAIT_MS = 5_000


/** What one dial attempt did: `skipped` made no dial (shutdown, blocked, self, already dialling). */
type DialOutcome = 'connected' | 'failed' | 'skipped'

export interface PeerDialerInit {
  libp2p: Libp2p
  bootstrap: string[]
  counters: Counters
  log: Logger
  /** Peers not to dial (blocked). */
  isBlocked: (peerId: string) => boolean
  /** The mDNS discovery service, when mDNS is on: its every announcement is seen here. */
  mdns?: TypedEventTarget<{ peer: CustomEvent<PeerInfo> }>
  /** The network's sync protocol: a kept peer that does not speak it is reported. */
  protocol: string
  /** Reports a problem of the configuration, once per peer (a process warning). */
  warn: (message: string) => void
}

export class PeerDialer {
  private readonly init: PeerDialerInit
  private shutdown?: AbortController
  /** Dials under way, by peer id: what they come to. */
  private readonly dialing = new Map<string, Promise<DialOutcome>>()
  private readonly retrying = new Set<string>()
  /** Peer ids with a loop keeping them connected (bootstrap addresses, `keep`), and the addresses it dials. */
  private readonly kept = new Map<string, Multiaddr[]>()
  /** Ends the wait of a keep loop before its next attempt, by peer id. */
  private readonly wakers = new Map<string, () => void>()
  /** Kept peers reported for not speaking the network's protocol. */
  private readonly foreign = new Set<string>()
  /** Peers whose last announcement-driven dial failed, oldest failure first. */
  private readonly backoff = new BackoffTable(ANNOUNCED_BACKOFF_MIN_MS, ANNOUNCED_BACKOFF_MAX_MS)
  /** Peers that closed a connection before identify ran on it, oldest refusal first. */
  private readonly refused = new BackoffTable(REFUSED_BACKOFF_MIN_MS, REFUSED_BACKOFF_MAX_MS)
  /** Connections identify has run over. */
  private readonly identified = new WeakSet<Connection>()
  /** The dial waiting to learn whether its new connection gets identified or closes first (one per connection: one dial per peer at a time). */
  private readonly settling = new Map<Connection, (identified: boolean) => void>()

  constructor (init: PeerDialerInit) {
    this.init = init
  }

  start (): void {
    if (this.shutdown !== undefined) return
    this.shutdown = new AbortController()
    const { libp2p } = this.init
    libp2p.addEventListener('peer:discovery', this.onDiscovery)
    libp2p.addEventListener('peer:identify', this.onIdentify)
    libp2p.addEventListener('connection:close', this.onClose)
    this.init.mdns?.addEventListener('peer', this.onAnnounced)
    // Connections made while the node started, before these listeners: identify may have run on
    // them unseen, and one that closes later must not be taken for a refusal.
    for (const connection of libp2p.getConnections()) this.identified.add(connection)
    for (const addr of this.init.bootstrap) this.keep(multiaddr(addr))
  }

  stop (): void {
    if (this.shutdown === undefined) return
    const { libp2p } = this.init
    libp2p.removeEventListener('peer:discovery', this.onDiscovery)
    libp2p.removeEventListener('peer:identify', this.onIdentify)
    libp2p.removeEventListener('connection:close', this.onClose)
    this.init.mdns?.removeEventListener('peer', this.onAnnounced)
    this.shutdown.abort()
    this.shutdown = undefined
    for (const done of [...this.settling.values()]) done(false)
    this.kept.clear()
    this.wakers.clear()
    this.foreign.clear()
    this.backoff.clear()
    this.refused.clear()
  }

  /**
   * Keeps the peer at `addr` (ending in `/p2p/<id>`) connected for as long
   * as the node runs, as a bootstrap address is: redialled with backoff
   * whenever it is not. One loop per peer; another address of a kept peer
   * is added to the addresses its loop dials.
   */
  keep (addr: Multiaddr): void {
    const signal = this.shutdown?.signal
    const id = peerIdOf(addr)
    if (signal === undefined || id === undefined) return
    const addrs = this.kept.get(id)
    if (addrs !== undefined) {
      if (!addrs.some(a => a.equals(addr))) addrs.push(addr)
      return
    }
    const list = [addr]
    this.kept.set(id, list)
    // Kept once connected (a node's `dial()`): identify has run already.
    // (Only once identify has run over a connection: the peer store may hold a partial list before.)
    const peer = peerIdFromString(id)
    if (this.init.libp2p.getConnections(peer).some(c => this.identified.has(c))) {
      this.init.libp2p.peerStore.get(peer).then(p => { this.checkProtocols(id, p.protocols) }, () => {})
    }
    this.keepLoop(list, id, signal).catch(err => {
      this.init.counters.backgroundErrors++
      this.init.log.error('the loop keeping %s connected ended - %e', addr, err)
    })
  }

  /** Dials `peer` (by id, addresses from the peer store) unless connected, already dialling, or refused lately. */
  async dial (peer: PeerId | Multiaddr, keepAlive = true): Promise<boolean> {
    return await this.attempt(peer, keepAlive) === 'connected'
  }

  /**
   * Dials `peer` now (an unblocked peer): a kept peer by its loop, at the
   * addresses it was given (it may have none in the peer store, never
   * having connected), without waiting out the loop's backoff; another one
   * by id.
   */
  async redial (peer: PeerId): Promise<boolean> {
    const wake = this.wakers.get(peer.toString())
    if (wake === undefined) return await this.dial(peer)
    wake()
    return false
  }

  /** Whether `peerId` refused a connection lately: no dial to it until its backoff ends (for the connection gater). */
  isRefusing (peerId: string): boolean {
    return this.refused.active(peerId)
  }

  private async attempt (peer: PeerId | Multiaddr, keepAlive = true): Promise<DialOutcome> {
    const { libp2p } = this.init
    const signal = this.shutdown?.signal
    if (signal === undefined || signal.aborted) return 'skipped'
    const id = isPeerId(peer) ? peer.toString() : peerIdOf(peer)
    if (id === undefined || id === libp2p.peerId.toString() || this.init.isBlocked(id) || this.isRefusing(id)) return 'skipped'
    if (libp2p.getConnections(peerIdFromString(id)).length > 0) return 'connected'
    const pending = this.dialing.get(id)
    if (pending !== undefined) {
      // Another dial of the peer is under way (by id, from an unblock or an
      // announcement, say): its outcome; if it failed and this one has
      // addresses of its own, then a dial of those.
      const outcome = await pending
      if (outcome === 'connected') return outcome
      return isPeerId(peer) || this.dialing.has(id) ? 'skipped' : await this.attempt(peer, keepAlive)
    }
    const run = this.dialOnce(peer, id, keepAlive, signal).finally(() => { this.dialing.delete(id) })
    this.dialing.set(id, run)
    return await run
  }

  private async dialOnce (peer: PeerId | Multiaddr, id: string, keepAlive: boolean, signal: AbortSignal): Promise<DialOutcome> {
    const { libp2p, counters, log } = this.init
    try {
      const connection = await libp2p.dial(peer, { signal: AbortSignal.any([signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]) })
      if (!await this.settle(connection, signal)) {
        if (signal.aborted) return 'skipped'
        counters.dialFailures++
        log('%s closed the connection before identify (refusing this node?)', id)
        return 'failed'
      }
      this.backoff.delete(id)
      if (keepAlive) {
        await libp2p.peerStore.merge(peerIdFromString(id), { tags: { [KEEP_ALIVE]: { value: 1 } } }).catch(() => {})
      }
      return 'connected'
    } catch (err) {
      if (signal.aborted) return 'skipped'
      counters.dialFailures++
      log('dialling %s failed - %s', id, (err as Error).message)
      return 'failed'
    }
  }

  /**
   * Resolves once `connection` is identified (true) or closed (false), or
   * after `IDENTIFY_WAIT_MS` to whether it is still open.
   */
  private async settle (connection: Connection, signal: AbortSignal): Promise<boolean> {
    if (this.identified.has(connection)) return true
    if (connection.status !== 'open') return false
    return await new Promise<boolean>(resolve => {
      const done = (identified: boolean): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        this.settling.delete(connection)
        resolve(identified)
      }
      const onAbort = (): void => { done(false) }
      const timer = setTimeout(() => { done(connection.status === 'open') }, IDENTIFY_WAIT_MS)
      signal.addEventListener('abort', onAbort)
      this.settling.set(connection, done)
    })
  }

  /** Identify ran over a connection: the peer is not refusing this node, and its announcements are dialled at once again after a later drop. */
  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const { connection, peerId, protocols } = evt.detail
    this.identified.add(connection)
    this.backoff.delete(peerId.toString())
    this.refused.delete(peerId.toString())
    this.settling.get(connection)?.(true)
    if (this.kept.has(peerId.toString())) this.checkProtocols(peerId.toString(), protocols)
  }

  /** A kept peer that identified without the network's protocol stays connected but never joins: say why, once, or it looks like a silent failure. */
  private checkProtocols (id: string, protocols: string[]): void {
    if (protocols.includes(this.init.protocol) || this.foreign.has(id)) return
    this.foreign.add(id)
    const message = `peer ${id}, a bootstrap or dialled peer, is not a REPRAM node of this network: it does not speak ${this.init.protocol} (another network name or version, or not a REPRAM node)`
    this.init.log.error(message)
    this.init.warn(message)
  }

  /** A connection closed: if before identify ran on it, and not by our own block, the peer is refusing this node. */
  private readonly onClose = (evt: CustomEvent<Connection>): void => {
    const connection = evt.detail
    this.settling.get(connection)?.(false)
    const id = connection.remotePeer.toString()
    if (this.shutdown === undefined || this.identified.has(connection) || this.init.isBlocked(id)) return
    const delayMs = this.refused.fail(id)
    this.init.log('%s closed a connection before identify: no dial to it for %d ms', id, delayMs)
    // Else libp2p's reconnect queue redials it on the disconnect, and again on the next.
    this.init.libp2p.peerStore.merge(connection.remotePeer, { tags: { [KEEP_ALIVE]: undefined } }).catch(() => {})
  }

  private readonly onDiscovery = (evt: CustomEvent<PeerInfo>): void => {
    const { id, multiaddrs } = evt.detail
    this.init.log('discovered %p at %a', id, multiaddrs)
    const signal = this.shutdown?.signal
    // A kept peer (a bootstrap address, say) has its own loop; that it entered the peer store is no news.
    if (signal === undefined || this.kept.has(id.toString())) return
    this.retryDiscovered(id, signal).catch(err => {
      this.init.counters.backgroundErrors++
      this.init.log.error('dialling discovered peer %p failed - %e', id, err)
    })
  }

  /**
   * An mDNS announcement, new peer or not: dial it if it is not connected
   * (its addresses go to the peer store first), unless it is backing off
   * after a failed dial of this kind.
   */
  private readonly onAnnounced = (evt: CustomEvent<PeerInfo>): void => {
    const { id, multiaddrs } = evt.detail
    const { libp2p, isBlocked } = this.init
    const key = id.toString()
    if (this.shutdown === undefined || this.dialing.has(key) || this.retrying.has(key) || isBlocked(key) || libp2p.getConnections(id).length > 0) return
    if (this.backoff.active(key)) return
    libp2p.peerStore.merge(id, { multiaddrs }).then(async () => {
      if (await this.attempt(id) === 'failed') this.backOff(key)
    }).catch(err => {
      this.init.counters.backgroundErrors++
      this.init.log.error('dialling announced peer %p failed - %e', id, err)
    })
  }

  /** Records a failed announcement-driven dial of `id`: the next backoff is the last one doubled, within bounds. */
  private backOff (id: string): void {
    if (this.shutdown === undefined || this.init.libp2p.getConnections(peerIdFromString(id)).length > 0) return
    this.init.log('announcements of %s skipped for %d ms', id, this.backoff.fail(id))
  }

  /**
   * libp2p reports a discovered peer only once (when it enters the peer
   * store), so a failed first dial is retried here with backoff, up to
   * `DISCOVERED_ATTEMPTS` times; once connected, KEEP_ALIVE redials take over.
   */
  private async retryDiscovered (id: PeerId, signal: AbortSignal): Promise<void> {
    if (this.retrying.has(id.toString())) return
    this.retrying.add(id.toString())
    try {
      let delay = BACKOFF_MIN_MS
      for (let attempt = 0; attempt < DISCOVERED_ATTEMPTS && !signal.aborted; attempt++) {
        if (await this.dial(id)) return
        await sleep(delay, signal)
        delay = Math.min(delay * 2, BACKOFF_MAX_MS)
      }
    } finally {
      this.retrying.delete(id.toString())
    }
  }

  /**
   * Dials the peer `id` whenever it is not connected, at one of `addrs`
   * (which `keep` may add to) per attempt, in turn: an address that hangs
   * (a firewall dropping packets) costs one attempt's timeout, not every
   * attempt's, as it would first in a dial of all of them.
   */
  private async keepLoop (addrs: Multiaddr[], id: string, signal: AbortSignal): Promise<void> {
    const peerId = peerIdFromString(id)
    let delay = BACKOFF_MIN_MS
    let turn = 0
    // Woken by `redial` for a dial at once: during the wait, or during an attempt (then no wait follows).
    const wake: { requested: boolean, during?: AbortController } = { requested: false }
    this.wakers.set(id, () => {
      wake.requested = true
      wake.during?.abort()
    })
    while (!signal.aborted) {
      const connected = this.init.libp2p.getConnections(peerId).length > 0
      let outcome: DialOutcome = 'connected'
      if (!connected) outcome = await this.attempt(addrs[turn % addrs.length])
      if (outcome === 'failed') {
        turn++ // the next address next time; one that worked is tried first after a drop
        delay = Math.min(delay * 2, BACKOFF_MAX_MS)
      } else if (outcome === 'connected') {
        delay = BACKOFF_MIN_MS
      } // skipped (blocked, refusing, already dialling): no dial failed, the backoff stays
      if (!wake.requested) {
        wake.during = new AbortController()
        await sleep(connected ? 1000 : delay, AbortSignal.any([signal, wake.during.signal]))
        wake.during = undefined
      }
      if (wake.requested) {
        wake.requested = false
        delay = BACKOFF_MIN_MS
      }
    }
    this.wakers.delete(id)
  }
}

function peerIdOf (addr: Multiaddr): string | undefined {
  return addr.getComponents().findLast(c => c.name === 'p2p')?.value
}

function isPeerId (x: PeerId | Multiaddr): x is PeerId {
  return typeof (x as PeerId).toMultihash === 'function'
}
