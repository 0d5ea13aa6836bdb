/**
 * Two timers that libp2p v3 leaves pending after `stop()`, each keeping a
 * stopped node's process alive for up to a second (a host app that has
 * nothing else to do would not exit until they fire) and then doing work
 * on a stopped node:
 * - gossipsub (v17) replaces its status, which holds the timer of its next
 *   heartbeat, without clearing that timer; one more heartbeat then runs
 *   over emptied state;
 * - the address manager updates the peer store on `transport:close` after
 *   a 1 s debounce, and it has no `stop()` that would cancel it.
 * Both are reached through fields of those objects that their types do not
 * declare: each step checks what it finds and does nothing otherwise, so a
 * later libp2p only brings the wait back (test/integration/stop.test.ts
 * then fails).
 */

/** Wraps gossipsub's `stop()` to clear the timer of its next heartbeat; false if `pubsub` has no `stop()`. */
export function clearHeartbeatOnStop (pubsub: object): boolean {
  const target = pubsub as { stop?: () => Promise<void>, status?: { heartbeatTimeout?: ReturnType<typeof setTimeout> } }
  if (typeof target.stop !== 'function') return false
  const stop = target.stop.bind(pubsub)
  target.stop = async (): Promise<void> => {
    // Read before stopping: stop() replaces the status before its first await,
    // and from then on no heartbeat schedules another.
    const timer = target.status?.heartbeatTimeout
    try {
      await stop()
    } finally {
      clearTimeout(timer)
    }
  }
  return true
}

/** Cancels the address manager's pending peer-store update; call once `libp2p.stop()` has resolved. */
export function cancelAddressUpdate (libp2p: object): void {
  const update = (libp2p as { components?: { addressManager?: { _updatePeerStoreAddresses?: { stop?: unknown } } } })
    .components?.addressManager?._updatePeerStoreAddresses
  if (typeof update?.stop === 'function') update.stop()
}
