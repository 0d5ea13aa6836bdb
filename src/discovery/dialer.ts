/**
 * Turns discovered and configured peers into connections. libp2p does not
 * dial discovered peers by itself, and the stock bootstrap module dials
 * once and gives up, so this module:
 *
 * - dials every peer that a discovery mechanism (mDNS, DHT rendezvous)
 *   reports, unless already connected, retrying with backoff when the first
 *   dials fail, and tags it `KEEP_ALIVE` so libp2p's reconnect queue
 *   redials it after a drop;
 * - keeps one loop per bootstrap address that dials with exponential
 *   backoff (0.25 s doubling up to 30 s) whenever that peer is not
 *   connected, for as long as the node runs: the order nodes start in
 *   does not matter, and a peer that was away is found again.
 *
 * Failures are logged and counted, never thrown.
 */
import { KEEP_ALIVE } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { sleep } from '../util/sleep.ts'
import type { Libp2p, Logger, PeerId, PeerInfo } from '@libp2p/interface'
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
}

export class PeerDialer {
  private readonly init: PeerDialerInit
  private shutdown?: AbortController
  private readonly dialing = new Set<string>()
  private readonly retrying = new Set<string>()

  constructor (init: PeerDialerInit) {
    this.init = init
  }

  start (): void {
    if (this.shutdown !== undefined) return
    this.shutdown = new AbortController()
    this.init.libp2p.addEventListener('peer:discovery', this.onDiscovery)
    for (const addr of this.init.bootstrap) {
      this.bootstrapLoop(multiaddr(addr), this.shutdown.signal).catch(err => {
        this.init.counters.backgroundErrors++
        this.init.log.error('bootstrap loop for %s ended - %e', addr, err)
      })
    }
  }

  stop (): void {
    if (this.shutdown === undefined) return
    this.init.libp2p.removeEventListener('peer:discovery', this.onDiscovery)
    this.shutdown.abort()
    this.shutdown = undefined
  }

  /** Dials `peer` (by id, addresses from the peer store) unless connected or already dialling. */
  async dial (peer: PeerId | Multiaddr, keepAlive = true): Promise<boolean> {
    const { libp2p, counters, log } = this.init
    const signal = this.shutdown?.signal
    if (signal === undefined || signal.aborted) return false
    const id = isPeerId(peer) ? peer.toString() : peer.getComponents().findLast(c => c.name === 'p2p')?.value
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

  private async bootstrapLoop (addr: Multiaddr, signal: AbortSignal): Promise<void> {
    const id = addr.getComponents().findLast(c => c.name === 'p2p')?.value
    if (id === undefined) return
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

function isPeerId (x: PeerId | Multiaddr): x is PeerId {
  return typeof (x as PeerId).toMultihash === 'function'
}
