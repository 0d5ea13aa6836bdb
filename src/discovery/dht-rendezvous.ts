/**
 * Peer finding through a private Kademlia DHT: every node announces itself
 * as a provider of a rendezvous CID derived from the network name, and looks
 * up the other providers, periodically. Found peers go to the dialer. The
 * DHT still needs one first peer (bootstrap or mDNS) to join the table.
 *
 * A provider record outlives its node (the DHT keeps it for hours), so a
 * provider that could not be dialled is skipped for a backoff that starts
 * at one round and doubles per failure up to `MAX_BACKOFF_MS`; a dial that
 * connects ends it. Without it every node would dial every departed node
 * every round.
 */
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { sleep } from '../util/sleep.ts'
import { BackoffTable } from './backoff.ts'
import type { Libp2p, Logger, PeerId } from '@libp2p/interface'

const ROUND_MS = 15_000
const QUERY_TIMEOUT_MS = 10_000
/** Longest wait before a provider that failed is dialled again, ms. */
export const MAX_BACKOFF_MS = 30 * 60_000

export interface DhtRendezvousInit {
  libp2p: Libp2p
  network: string
  log: Logger
  /** Dials a provider; resolves to whether it is connected. */
  dial: (peer: PeerId) => Promise<boolean>
  /** Time between two rounds (provide, then look up), ms. @default 15000 */
  roundMs?: number
  /** The first backoff of a provider that could not be dialled, ms. @default the round's */
  backoffMs?: number
}

export async function rendezvousCid (network: string): Promise<CID> {
  const digest = await sha256.digest(new TextEncoder().encode(`repram/rendezvous/${network}`))
  return CID.createV1(raw.code, digest)
}

export class DhtRendezvous {
  private readonly init: DhtRendezvousInit
  private shutdown?: AbortController
  /** Providers whose last dial failed. */
  private readonly failed: BackoffTable

  constructor (init: DhtRendezvousInit) {
    this.init = init
    this.failed = new BackoffTable(init.backoffMs ?? init.roundMs ?? ROUND_MS, MAX_BACKOFF_MS)
  }

  start (): void {
    if (this.shutdown !== undefined) return
    this.shutdown = new AbortController()
    this.loop(this.shutdown.signal).catch(err => { this.init.log.error('rendezvous loop ended - %e', err) })
  }

  stop (): void {
    this.shutdown?.abort()
    this.shutdown = undefined
    this.failed.clear()
  }

  /** Dials a provider unless it is backing off; a failure doubles its backoff, a connection ends it. */
  private dialProvider (peer: PeerId): void {
    const id = peer.toString()
    if (this.failed.active(id)) return
    this.init.dial(peer).then(connected => {
      if (connected) this.failed.delete(id)
      else this.init.log('provider %s not reached: skipped for %d ms', id, this.failed.fail(id))
    }, () => {})
  }

  private async loop (signal: AbortSignal): Promise<void> {
    const { libp2p, log } = this.init
    const cid = await rendezvousCid(this.init.network)
    while (!signal.aborted) {
      if (libp2p.getConnections().length > 0) {
        // Each query its own deadline: a provide that takes it all must not cost the lookup.
        try {
          await libp2p.contentRouting.provide(cid, { signal: AbortSignal.any([signal, AbortSignal.timeout(QUERY_TIMEOUT_MS)]) })
        } catch (err) {
          if (!signal.aborted) log('rendezvous provide failed - %s', (err as Error).message)
        }
        try {
          for await (const provider of libp2p.contentRouting.findProviders(cid, { signal: AbortSignal.any([signal, AbortSignal.timeout(QUERY_TIMEOUT_MS)]) })) {
            if (!provider.id.equals(libp2p.peerId)) this.dialProvider(provider.id)
          }
        } catch (err) {
          if (!signal.aborted) log('rendezvous lookup failed - %s', (err as Error).message)
        }
      }
      await sleep(libp2p.getConnections().length > 0 ? this.init.roundMs ?? ROUND_MS : 1000, signal)
    }
  }
}
