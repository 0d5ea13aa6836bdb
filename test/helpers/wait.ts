/** Waiting helpers for tests: every wait has a deadline and says what it waited for. */

export interface WaitOptions {
  /** Deadline, ms. @default 10000 */
  timeout?: number
  /** Poll period, ms. @default 20 */
  interval?: number
  /** Said in the error when the deadline passes. */
  message?: string
}

/** Polls `condition` until it returns a truthy value (which is returned) or the deadline passes. */
export async function waitFor<T> (condition: () => T | Promise<T>, opts: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeout = opts.timeout ?? 10_000
  const interval = opts.interval ?? 20
  const deadline = Date.now() + timeout
  let last: unknown
  for (;;) {
    try {
      const value = await condition()
      if (value) return value as NonNullable<T>
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : ''
      throw new Error(`timed out after ${timeout} ms waiting for ${opts.message ?? 'condition'}${why}`)
    }
    await new Promise(resolve => setTimeout(resolve, interval))
  }
}

/** Resolves with the event's detail the next time `target` dispatches `type`, or rejects at the deadline. */
export function nextEvent<T = unknown> (target: EventTarget, type: string, opts: { timeout?: number, filter?: (detail: T) => boolean } = {}): Promise<T> {
  const timeout = opts.timeout ?? 10_000
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      target.removeEventListener(type, listener)
      reject(new Error(`timed out after ${timeout} ms waiting for event "${type}"`))
    }, timeout)
    const listener = (evt: Event): void => {
      const detail = (evt as CustomEvent<T>).detail
      if (opts.filter != null && !opts.filter(detail)) return
      clearTimeout(timer)
      target.removeEventListener(type, listener)
      resolve(detail)
    }
    target.addEventListener(type, listener)
  })
}
