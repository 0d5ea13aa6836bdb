/** Ctrl-C / SIGTERM handling for the long-running commands (start, watch, status --watch). */
import { watchScriptParent } from './script-parent.ts'
import type { ScriptParentOptions } from './script-parent.ts'

/** The abort reason when the package script that started the command has ended (see `script-parent.ts`). */
export const SCRIPT_ENDED = 'script-ended'

export interface Interrupt {
  /** Aborted on the first SIGINT or SIGTERM (reason: the signal's name), or when the package script that started the command ends ({@link SCRIPT_ENDED}). */
  signal: AbortSignal
  /** Removes the handlers. */
  dispose: () => void
}

interface Held {
  handler: (name: NodeJS.Signals) => void
  received?: NodeJS.Signals
}

/** Set by {@link holdInterrupts} until a command takes the signals over or lets them go. */
let held: Held | undefined

/**
 * Keeps a SIGINT/SIGTERM that arrives before a long-running command listens
 * (while it loads libp2p, say) for that command, which then stops at once
 * and cleanly, instead of the process dying with no cleanup (exit 143 for a
 * SIGTERM). A second signal meanwhile exits with 130. The command takes the
 * signal over with {@link onInterrupt}; {@link releaseInterrupts} gives it
 * back otherwise.
 */
export function holdInterrupts (): void {
  if (held !== undefined) return
  const state: Held = {
    handler: (name) => {
      if (state.received !== undefined) process.exit(130)
      state.received = name
    }
  }
  held = state
  process.on('SIGINT', state.handler)
  process.on('SIGTERM', state.handler)
}

/**
 * Ends {@link holdInterrupts} for a command that did not take the signals
 * over (one that failed first, or does not run long): a signal held meanwhile
 * now has its default effect, and ends the process.
 */
export function releaseInterrupts (): void {
  const state = held
  if (state === undefined) return
  if (state.received !== undefined) {
    takeHeld()
    process.kill(process.pid, state.received)
    return
  }
  // A signal the system has delivered reaches its listener only at the event loop's next look at
  // it; with no listener left by then, Node would drop it. One listener stays that long, two turns
  // of the loop, and gives such a signal its default effect. (Added before the holder's goes.)
  const reraise = (name: NodeJS.Signals): void => {
    stopListening()
    process.kill(process.pid, name)
  }
  const stopListening = (): void => {
    process.off('SIGINT', reraise)
    process.off('SIGTERM', reraise)
  }
  process.on('SIGINT', reraise)
  process.on('SIGTERM', reraise)
  setImmediate(() => { setImmediate(stopListening).unref() }).unref()
  takeHeld()
}

function takeHeld (): Held | undefined {
  const state = held
  if (state === undefined) return undefined
  held = undefined
  process.off('SIGINT', state.handler)
  process.off('SIGTERM', state.handler)
  return state
}

/**
 * Turns the first SIGINT/SIGTERM into an aborted signal so the command can
 * stop cleanly and exit 0; one held by {@link holdInterrupts} aborts it at
 * once. A second signal while stopping exits at once with 130, for the
 * impatient. Run from a package script (`npm start`), the command also
 * stops when that script's shell is gone.
 */
export function onInterrupt (parent?: ScriptParentOptions): Interrupt {
  const controller = new AbortController()
  const handler = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130)
    controller.abort(name)
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  const early = takeHeld()?.received
  if (early !== undefined) controller.abort(early)
  const unwatch = watchScriptParent(() => { if (!controller.signal.aborted) controller.abort(SCRIPT_ENDED) }, parent)
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
      unwatch()
    }
  }
}

/** Why a command is stopping, for its last lines: "SIGTERM received", "the npm script that started it ended". */
export function describeInterrupt (reason: unknown): string {
  if (reason === SCRIPT_ENDED) return 'the npm script that started it ended'
  return `${String(reason ?? 'signal')} received`
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    if (signal.aborted) { resolve(); return }
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done)
  })
}
