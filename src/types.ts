/**
 * Public data types of REPRAM. Everything the API returns is plain data:
 * strings, numbers and Uint8Arrays, never libp2p objects.
 */

/** One live value, as returned by `get()`. */
export interface Entry {
  key: string
  /**
   * The stored bytes: a view of the store's memory, not a copy. The store
   * never changes them, even after the key is overwritten, deleted or
   * expired. Do not write to it, nor to its `.buffer`, which holds other
   * entries too: nothing prevents it, and the stored values would change
   * with it. `value.slice()` gives a copy of your own, also the one to
   * keep for long or to post to a worker (a view keeps, and a structured
   * clone copies, its whole 64 KiB slab).
   */
  value: Uint8Array
  /** Absolute expiry time, epoch milliseconds. The same on every node. */
  expiresAt: number
  /** When the write happened (the physical part of its version), epoch ms. */
  createdAt: number
  /**
   * The write's version: a hybrid logical clock reading `"<ms>.<counter>"`.
   * Together with `origin` it orders writes totally: later wins on every node.
   */
  version: string
  /** Peer id of the node that made the write. */
  origin: string
  /** MIME type given at put time, if any. */
  contentType?: string
}

export interface PutOptions {
  /** Time to live in ms. @default the node's `defaultTtl` */
  ttl?: number
  /**
   * Number of other nodes that must confirm they stored the write before the
   * put resolves. `0` resolves once stored locally and published. When fewer
   * confirm within `timeout`, the put rejects with `QuorumNotReachedError`
   * (the entry stays stored and keeps replicating).
   * @default 0
   */
  quorum?: number
  /** How long to wait for `quorum` confirmations, ms. @default 5000 */
  timeout?: number
  /** MIME type stored with the value and returned by `get()` and the HTTP API. */
  contentType?: string
  signal?: AbortSignal
}

/** What a successful put returns. */
export interface PutReceipt {
  key: string
  expiresAt: number
  version: string
  /** How many other nodes confirmed storing this write before the put resolved. */
  confirmations: number
}

export interface AbortOptions {
  signal?: AbortSignal
}

export interface KeysOptions {
  /** Only keys that start with this string. */
  prefix?: string
  /** Only keys that sort after this one (code-unit order): the last key of the page before. */
  after?: string
  /** At most this many keys: the first ones in order. A page costs one pass over the keys, not a sort of all of them. */
  limit?: number
}

export interface WatchOptions {
  /** Only keys that start with this string. */
  prefix?: string
  signal?: AbortSignal
}

/** A change to the store, as emitted by events and `watch()`. */
export type Change =
  | { type: 'set', key: string, entry: Entry, local: boolean }
  | { type: 'delete', key: string, version: string, origin: string, local: boolean }
  | { type: 'expire', key: string, expiresAt: number }

export interface PeerEventDetail {
  /** Peer id string. */
  peerId: string
}

/** Events dispatched by `RepramNode` (as `CustomEvent`s with these `detail`s). */
export interface RepramNodeEvents {
  /**
   * A value was stored, by a local put or a replicated write. For a local
   * write it fires once the messages of the writes made in the same
   * event-loop turn have been handed to the peers' streams, so just after
   * `put()` has resolved: a listener, however slow, holds back no write
   * (the same holds for `entry:delete`).
   */
  'entry:set': CustomEvent<Extract<Change, { type: 'set' }>>
  /** A key was deleted, locally or by a replicated tombstone. */
  'entry:delete': CustomEvent<Extract<Change, { type: 'delete' }>>
  /** A value reached its `expiresAt` and was removed. */
  'entry:expire': CustomEvent<Extract<Change, { type: 'expire' }>>
  /** A REPRAM peer (same network) connected and subscribed. */
  'peer:join': CustomEvent<PeerEventDetail>
  /** A REPRAM peer disconnected. */
  'peer:leave': CustomEvent<PeerEventDetail>
}

/** Counters and gauges, for monitoring. All counters start at 0 at `start()`. */
export interface NodeStats {
  peerId: string
  network: string
  started: boolean
  /** Time since `start()`, ms (0 when stopped). */
  uptimeMs: number
  /** Live entries. */
  entries: number
  /** Bytes of live keys and values. */
  bytes: number
  /** Deletion/overwrite markers kept to stop old versions coming back. */
  tombstones: number
  /** Connected REPRAM peers. */
  peers: number
  counters: {
    putsLocal: number
    deletesLocal: number
    /** Writes (sets and deletes) received from peers and applied. */
    replicatedApplied: number
    /** Writes received that were older than what we had (no change). */
    replicatedStale: number
    /** Gossip messages published (attempts: also when no peer is subscribed, and quorum re-publications) / received and valid (the others count in `rejected`). */
    gossipSent: number
    gossipReceived: number
    /** Messages or records rejected as malformed, oversized, expired or from the future. */
    rejected: number
    expired: number
    syncRounds: number
    syncEntriesReceived: number
    syncBytesSent: number
    syncBytesReceived: number
    syncFailures: number
    /** Sync buckets left out of a round because their last exchange with that peer changed nothing (a record one side refuses: see README, Limits). */
    syncBucketsSkipped: number
    dialFailures: number
    /** Errors caught in background tasks (logged, never thrown). */
    backgroundErrors: number
  }
}
