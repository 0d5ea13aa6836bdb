/**
 * Keeps an event listener's failure from reaching the process. Node's
 * `EventTarget` rethrows a listener's exception as an uncaught exception
 * (on the next tick, out of reach of the code that dispatched the event),
 * and an async listener's rejection is an unhandled rejection: either ends
 * the process by default. A node's events mostly fire from background work
 * (a peer's write, an expiry sweep), so one buggy listener would take the
 * host app down with it.
 *
 * `wrap` gives, per event type and listener, one guard that calls the
 * listener and hands what it throws or rejects with to `onError`; the same
 * listener gets the same guard again, so adding it twice stays a no-op and
 * removing it finds the guard (`lookup`).
 */
export type Listener = ((evt: Event) => unknown) | { handleEvent: (evt: Event) => unknown }

export class ListenerGuard {
  private readonly guards = new Map<string, WeakMap<object, (evt: Event) => void>>()
  private readonly onError: (type: string, err: unknown) => void

  constructor (onError: (type: string, err: unknown) => void) {
    this.onError = onError
  }

  wrap (type: string, listener: Listener): (evt: Event) => void {
    let byListener = this.guards.get(type)
    if (byListener === undefined) {
      byListener = new WeakMap()
      this.guards.set(type, byListener)
    }
    let guard = byListener.get(listener)
    if (guard === undefined) {
      guard = (evt: Event): void => {
        try {
          const out = typeof listener === 'function' ? listener(evt) : listener.handleEvent(evt)
          if (typeof (out as PromiseLike<unknown> | undefined)?.then === 'function') {
            (out as PromiseLike<unknown>).then(undefined, (err: unknown) => { this.onError(type, err) })
          }
        } catch (err) {
          this.onError(type, err)
        }
      }
      byListener.set(listener, guard)
    }
    return guard
  }

  /** The guard `wrap` made for `listener`, if any. */
  lookup (type: string, listener: Listener): ((evt: Event) => void) | undefined {
    return this.guards.get(type)?.get(listener)
  }
}
