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
 *   peer that stops being announced (it left) is not dialled again;
 * - keeps one loop per bootstrap address, and per address dialled through
 *   `keep` (a node's `dial()`), that dials with exponential backoff (0.25 s
 *   doubling up to 30 s) whenever that peer is not connected, for as long
 *   as the node runs: the order nodes start in does not matter, and a peer
 *   that was away is found again.
 *
 * Failures are logged and counted, never thrown.
 */
import { KEEP_ALIVE } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { sleep } from '../util/sleep.ts'
import type { Libp2p, Logger, PeerId, PeerInfo, TypedEventTarget } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Counters } from '../replication/counters.ts'

const BACKOFF_MIN_MS = 250
const BACKOFF_MAX_MS = 30_000
const DIAL_TIMEOUT_MS = 10_000
/** Dial attempts for a discovered peer (about 5 minutes with the backoff). */
const DISCOVERED_ATTEMPTS = 16

export interface PeerDialerInit {
  libp2p: Libp2p
  bootstrap: string[]
  counters: Counters
  log: Logger
  /** Peers not to dial (blocked). */
  isBlocked: (peerId: string) => boolean
  /** The mDNS discovery service, when mDNS is on: its every announcement is seen here. */
  mdns?: TypedEventTarget<{ peer: CustomEvent<PeerInfo> }>
}

export class PeerDialer {
  private readonly init: PeerDialerInit
  private shutdown?: AbortController
  private readonly dialing = new Set<string>()
  private readonly retrying = new Set<string>()
  /** Peer ids with a loop keeping them connected (bootstrap addresses, `keep`). */
  private readonly kept = new Set<string>()

  constructor (init: PeerDialerInit) {
    this.init = init
  }

  start (): void {
    if (this.shutdown !== undefined) return
    this.shutdown = new AbortController()
    this.init.libp2p.addEventListener('peer:discovery', this.onDiscovery)
    this.init.mdns?.addEventListener('peer', this.onAnnounced)
    for (const addr of this.init.bootstrap) this.keep(multiaddr(addr))
  }

  stop (): void {
    if (this.shutdown === undefined) return
    this.init.libp2p.removeEventListener('peer:discovery', this.onDiscovery)
    this.init.mdns?.removeEventListener('peer', this.onAnnounced)
    this.shutdown.abort()
    this.shutdown = undefined
    this.kept.clear()
  }

  /**
   * Keeps the peer at `addr` (ending in `/p2p/<id>`) connected for as long
   * as the node runs, as a bootstrap address is: redialled with backoff
   * whenever it is not. One loop per peer.
   */
  keep (addr: Multiaddr): void {
    const signal = this.shutdown?.signal
    const id = peerIdOf(addr)
    if (signal === undefined || id === undefined || this.kept.has(id)) return
    this.kept.add(id)
    this.keepLoop(addr, id, signal).catch(err => {
      this.init.counters.backgroundErrors++
      this.init.log.error('the loop keeping %s connected ended - %e', addr, err)
    })
  }

  /** Dials `peer` (by id, addresses from the peer store) unless connected or already dialling. */
  async dial (peer: PeerId | Multiaddr, keepAlive = true): Promise<boolean> {
    const { libp2p, counters, log } = this.init
    const signal = this.shutdown?.signal
    if (signal === undefined || signal.aborted) return false
    const id = isPeerId(peer) ? peer.toString() : peerIdOf(peer)
    if (id === undefined || id === libp2p.peerId.toString() || this.init.isBlocked(id)) return false
    if (libp2p.getConnections(peerIdFromString(id)).length > 0) return true
    if (this.dialing.has(id)) return false
    this.dialing.add(id)
    try {
      await libp2p.dial(peer, { signal: AbortSignal.any([signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]) })
      if (keepAlive) {
        await libp2p.peerStore.merge(peerIdFromString(id), { tags: { [KEEP_ALIVE]: { value: 1 } } }).catch(() => {})
      }
      return true
    } catch (err) {
      if (!signal.aborted) {
        counters.dialFailures++
        log('dialling %s failed - %s', id, (err as Error).message)
      }
      return false
    } finally {
      this.dialing.delete(id)
    }
  }

  private readonly onDiscovery = (evt: CustomEvent<PeerInfo>): void => {
    const { id, multiaddrs } = evt.detail
    this.init.log('discovered %p at %a', id, multiaddrs)
    const signal = this.shutdown?.signal
    if (signal === undefined) return
    this.retryDiscovered(id, signal).catch(err => {
      this.init.counters.backgroundErrors++
      this.init.log.error('dialling discovered peer %p failed - %e', id, err)
    })
  }

  /** An mDNS announcement, new peer or not: dial it if it is not connected (its addresses go to the peer store first). */
  private readonly onAnnounced = (evt: CustomEvent<PeerInfo>): void => {
    const { id, multiaddrs } = evt.detail
    const { libp2p, isBlocked } = this.init
    const key = id.toString()
    if (this.shutdown === undefined || this.dialing.has(key) || this.retrying.has(key) || isBlocked(key) || libp2p.getConnections(id).length > 0) return
    libp2p.peerStore.merge(id, { multiaddrs }).then(async () => await this.dial(id)).catch(err => {
      this.init.counters.backgroundErrors++
      this.init.log.error('dialling announced peer %p failed - %e', id, err)
    })
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

  private async keepLoop (addr: Multiaddr, id: string, signal: AbortSignal): Promise<void> {
    const peerId = peerIdFromString(id)
    let delay = BACKOFF_MIN_MS
    while (!signal.aborted) {
      const connected = this.init.libp2p.getConnections(peerId).length > 0
      if (connected) {
        delay = BACKOFF_MIN_MS
      } else if (!(await this.dial(addr))) {
        delay = Math.min(delay * 2, BACKOFF_MAX_MS)
      } else {
        delay = BACKOFF_MIN_MS
      }
      await sleep(connected ? 1000 : delay, signal)
    }
  }
}

function peerIdOf (addr: Multiaddr): string | undefined {
  return addr.getComponents().findLast(c => c.name === 'p2p')?.value
}

function isPeerId (x: PeerId | Multiaddr): x is PeerId {
  return typeof (x as PeerId).toMultihash === 'function'
}
