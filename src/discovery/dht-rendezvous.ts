/**
 * Peer finding through a private Kademlia DHT: every node announces itself
 * as a provider of a rendezvous CID derived from the network name, and looks
 * up the other providers, periodically. Found peers go to the dialer. The
 * DHT still needs one first peer (bootstrap or mDNS) to join the table.
 */
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { sleep } from '../util/sleep.ts'
import type { Libp2p, Logger, PeerId } from '@libp2p/interface'

const ROUND_MS = 15_000
const QUERY_TIMEOUT_MS = 10_000

export interface DhtRendezvousInit {
  libp2p: Libp2p
  network: string
  log: Logger
  dial: (peer: PeerId) => Promise<unknown>
}

export async function rendezvousCid (network: string): Promise<CID> {
  const digest = await sha256.digest(new TextEncoder().encode(`repram/rendezvous/${network}`))
  return CID.createV1(raw.code, digest)
}

export class DhtRendezvous {
  private readonly init: DhtRendezvousInit
  private shutdown?: AbortController

  constructor (init: DhtRendezvousInit) {
    this.init = init
  }

  start (): void {
    if (this.shutdown !== undefined) return
    this.shutdown = new AbortController()
    this.loop(this.shutdown.signal).catch(err => { this.init.log.error('rendezvous loop ended - %e', err) })
  }

  stop (): void {
    this.shutdown?.abort()
    this.shutdown = undefined
  }

  private async loop (signal: AbortSignal): Promise<void> {
    const { libp2p, log } = this.init
    const cid = await rendezvousCid(this.init.network)
    while (!signal.aborted) {
      if (libp2p.getConnections().length > 0) {
        const querySignal = AbortSignal.any([signal, AbortSignal.timeout(QUERY_TIMEOUT_MS)])
        try {
          await libp2p.contentRouting.provide(cid, { signal: querySignal })
        } catch (err) {
          if (!signal.aborted) log('rendezvous provide failed - %s', (err as Error).message)
        }
        try {
          for await (const provider of libp2p.contentRouting.findProviders(cid, { signal: querySignal })) {
            if (!provider.id.equals(libp2p.peerId)) void this.init.dial(provider.id)
          }
        } catch (err) {
          if (!signal.aborted) log('rendezvous lookup failed - %s', (err as Error).message)
        }
      }
      await sleep(libp2p.getConnections().length > 0 ? ROUND_MS : 1000, signal)
    }
  }
}
