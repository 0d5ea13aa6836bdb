/**
 * Keeps gossip flowing to a peer whose connection carrying it closed while
 * another connection to the peer stayed open.
 *
 * Two nodes often hold two connections: both dialled at once (a bootstrap
 * list shared by the whole cluster, mDNS on both sides, a DHT rendezvous).
 * Gossipsub opens its stream to a peer once, on the connection it was told
 * of when the peer connected, and opens no other while the peer stays
 * connected. When that connection closes (a socket error, a ping timeout)
 * and the other stays open, libp2p reports no disconnect, so the peer stays
 * listed as a peer while gossip to it has stopped: writes reach it only by
 * the next sync round, and quorum writes fail.
 *
 * So once a connection to a gossip peer closes while another stays open,
 * this checks (a moment later, when the streams of the closed connection
 * have closed) whether gossipsub still has its stream to the peer. If not,
 * it aborts the peer's other connections too (not a graceful close, which
 * waits on a peer that may be unreachable: the first connection may have
 * died of a partition that the others have not noticed yet). The peer then
 * leaves, and is dialled again as any dropped peer is (libp2p's reconnect
 * queue for a peer dialled before, a bootstrap or `dial()` loop, the next
 * mDNS announcement, or the peer dialling back): it joins again (events, a
 * sync round on joining), and gossipsub opens a new stream.
 */
import type { Connection, Libp2p, Logger, PeerId } from '@libp2p/interface'

/** How long after a connection closed its peer's gossip stream is checked, ms. */
const CHECK_DELAY_MS = 200

export interface GossipLinksInit {
  libp2p: Libp2p
  /**
   * Gossipsub: its peers, and its outbound streams by peer id (a field of
   * the GossipSub class that its interface leaves out; without it, as in a
   * gossipsub that no longer has it, nothing is checked, and the test in
   * test/integration/discovery.test.ts fails).
   */
  pubsub: { getPeers: () => PeerId[] }
  log: Logger
}

export class GossipLinks {
  private readonly init: GossipLinksInit
  private running = false
  private readonly checks = new Set<ReturnType<typeof setTimeout>>()

  constructor (init: GossipLinksInit) {
    this.init = init
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.init.libp2p.addEventListener('connection:close', this.onClose)
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    this.init.libp2p.removeEventListener('connection:close', this.onClose)
    for (const timer of this.checks) clearTimeout(timer)
    this.checks.clear()
  }

  private readonly onClose = (evt: CustomEvent<Connection>): void => {
    const peer = evt.detail.remotePeer
    if (this.init.libp2p.getConnections(peer).length === 0) return // a disconnect: gossipsub forgets the peer
    // A little later: the closed connection's streams have closed, and gossipsub has let go of its
    // stream; and a peer that is stopping has closed its other connections too (no reconnect then).
    const timer = setTimeout(() => {
      this.checks.delete(timer)
      this.check(peer)
    }, CHECK_DELAY_MS)
    this.checks.add(timer)
  }

  private check (peer: PeerId): void {
    const { libp2p, pubsub, log } = this.init
    const id = peer.toString()
    if (!this.running || libp2p.getConnections(peer).length === 0) return
    const streams = (pubsub as { streamsOutbound?: unknown }).streamsOutbound
    if (!(streams instanceof Map) || streams.has(id) || !pubsub.getPeers().some(p => p.equals(peer))) return
    log('the connection carrying gossip to %p closed, another stays open: dropping it too, to connect anew', peer)
    const err = new Error('the connection carrying gossip to this peer closed; connecting anew')
    for (const connection of libp2p.getConnections(peer)) connection.abort(err)
  }
}
