/**
 * Builds the libp2p node REPRAM runs on: TCP + noise + yamux, identify,
 * ping, gossipsub, and the discovery services the config asks for, tuned so
 * many nodes on one host (tests, several apps on one machine, NAT) work:
 * - gossipsub's IP-colocation penalty is off (it graylists more than a
 *   handful of peers behind one IP);
 * - the per-host inbound connection rate limit is raised;
 * - a ping may take 20 s before libp2p gives the connection up (large
 *   values over slow links);
 * - unsigned messages (see replication/gossip.ts);
 * - RPCs with several large messages are split to fit a peer's 4 MiB
 *   frame (see replication/rpc-frames.ts);
 * - a stopped gossipsub leaves no heartbeat timer behind (see
 *   stop-timers.ts).
 */
import { createHash } from 'node:crypto'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { gossipsub, StrictNoSign } from '@libp2p/gossipsub'
import { mdns } from '@libp2p/mdns'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { preSharedKey } from '@libp2p/pnet'
import { splitLargeRpcs } from './replication/rpc-frames.ts'
import { clearHeartbeatOnStop } from './stop-timers.ts'
import type { Config } from './config.ts'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p, PrivateKey, ConnectionGater } from '@libp2p/interface'

export interface RepramServices {
  pubsub: GossipSub
  [name: string]: unknown
}

export function protocolIds (network: string): { topic: string, sync: string, kad: string, mdnsTag: string } {
  return {
    // 2: acks carry a salt (a repeated confirmation must not be dropped as a
    // duplicate); a node of topic 1 would refuse them as malformed.
    topic: `repram/${network}/entries/2`,
    // 2: digests cover a record's guard. Nodes whose summaries are not
    // comparable must not sync (each round would resend what they both hold).
    // 3: RECEIVED reports and the send window (a 2.0.0 sender would wait
    // for reports that never come).
    sync: `/repram/${network}/sync/4.0.0`,
    kad: `/repram/${network}/kad/1.0.0`,
    // One DNS label: letters, digits and hyphens, at most 63 bytes; the hash
    // keeps names that differ only in '.', '_' or past the cut apart.
    mdnsTag: `_repram-${network.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 40)}-${createHash('sha256').update(network).digest('hex').slice(0, 8)}._udp.local`
  }
}

export async function createNetwork (config: Config, privateKey: PrivateKey, gater: ConnectionGater): Promise<Libp2p<RepramServices>> {
  const ids = protocolIds(config.network)
  const services: Record<string, any> = {
    identify: identify(),
    ping: ping(),
    pubsub: gossipsub({
      globalSignaturePolicy: StrictNoSign,
      allowPublishToZeroTopicPeers: true,
      ignoreDuplicatePublishError: true,
      emitSelf: false,
      scoreParams: { IPColocationFactorWeight: 0 },
      // Sized for batches: one record may carry a 3 MiB value.
      maxInboundDataLength: 4 * 1024 * 1024
    })
  }
  if (config.mdns !== false) {
    // A service (not a bare discovery module) so that the dialer can see
    // every announcement, not only a peer's first (see discovery/dialer.ts).
    services.mdns = mdns({ interval: config.mdns.interval, serviceTag: ids.mdnsTag })
  }
  if (config.dht) {
    services.dht = kadDHT({
      protocol: ids.kad,
      clientMode: false,
      peerInfoMapper: passthroughMapper
    })
  }
  const libp2p = await createLibp2p({
    privateKey,
    start: false,
    addresses: { listen: config.listen, announce: config.announce },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionProtector: config.psk !== undefined ? preSharedKey({ psk: config.psk }) : undefined,
    connectionGater: gater,
    connectionManager: {
      maxConnections: 300,
      inboundConnectionThreshold: 100,
      maxIncomingPendingConnections: 50
    },
    // A ping waits behind whatever the connection is carrying: one message
    // of a 1 MiB value takes 4 s to cross 2 Mbit/s, and libp2p's least
    // timeout of 5 s then dropped the whole connection. 20 s lets a 3 MiB
    // value cross 2 Mbit/s; a dead peer is still noticed within 30 s.
    connectionMonitor: { pingTimeout: { minTimeout: 20_000 } },
    services
  }) as unknown as Libp2p<RepramServices>
  // Returns false only for a gossipsub that no longer sends through
  // `sendRpc`; the IWANT test in test/integration/gossip-limits.test.ts fails then.
  splitLargeRpcs(libp2p.services.pubsub)
  clearHeartbeatOnStop(libp2p.services.pubsub)
  return libp2p
}
