/** Mutable counters shared by the node's parts; exposed read-only through `stats()`. */
import type { NodeStats } from '../types.ts'

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
    dialFailures: 0,
    backgroundErrors: 0
  }
}
