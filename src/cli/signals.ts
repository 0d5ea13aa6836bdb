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

/**
 * Turns the first SIGINT/SIGTERM into an aborted signal so the command can
 * stop cleanly and exit 0. A second signal while stopping exits at once with
 * 130, for the impatient. Run from a package script (`npm start`), the
 * command also stops when that script's shell is gone.
 */
export function onInterrupt (parent?: ScriptParentOptions): Interrupt {
  const controller = new AbortController()
  const handler = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130)
    controller.abort(name)
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
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
