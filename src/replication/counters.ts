/**
 * What the replication parts share: counters (exposed read-only through
 * `stats()`), and the checks and clock every incoming record goes through.
 */
import type { NodeStats } from '../types.ts'
import type { DecodeLimits, WireRecord } from './codec.ts'
import type { RecordBounds } from './validate.ts'
import type { Logger } from '@libp2p/interface'

export type Counters = NodeStats['counters']

export function newCounters (): Counters {
  return {
    putsLocal: 0,
    deletesLocal: 0,
    replicatedApplied: 0,
    replicatedStale: 0,
    gossipSent: 0,
    gossipReceived: 0,
    rejected: 0,
    expired: 0,
    syncRounds: 0,
    syncEntriesReceived: 0,
    syncBytesSent: 0,
    syncBytesReceived: 0,
    syncFailures: 0,
    syncBucketsSkipped: 0,
    dialFailures: 0,
    backgroundErrors: 0
  }
}

/** The part of its init that gossip and sync have in common. */
export interface ReplicationContext {
  limits: DecodeLimits
  bounds: RecordBounds
  clock: () => number
  counters: Counters
  log: Logger
  /** Applies valid records received from a peer (expired ones too: they supersede older versions). */
  onRecords: (records: WireRecord[], from: string) => void
  /** Takes records refused only for this node's own limits on values (`overOwnLimits`): newer versions it cannot hold. */
  onRefused: (records: WireRecord[], from: string) => void
}
