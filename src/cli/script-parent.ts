/**
 * Stopping with the package script that started us.
 *
 * `npm start` (likewise `npm run repram -- start`, `npm run fade`, and
 * yarn's or pnpm's `run`) starts the command through a shell: npm -> `sh -c
 * "node examples/node.ts"` -> node. Stopping npm the way a process manager
 * does (SIGTERM to npm) makes npm pass the signal to that shell, and a POSIX
 * shell running a command does not pass it on: the shell exits, and the node
 * is left running on its own, still holding its ports, so that a restart
 * fails with "address in use". (Ctrl-C in a terminal is not affected: it
 * signals the whole foreground process group, node included.)
 *
 * So a long-running command started from a package script also stops when
 * its parent process goes away, which shows as a change of its parent pid
 * (an orphan is adopted by init or a subreaper). It checks twice a second,
 * on a timer that never keeps the process alive. Outside a package script
 * nothing is watched: a node started from a shell with `nohup ... &` is
 * meant to outlive that shell. Nor on Windows, which neither has the
 * signal nor adopts orphans (a parent pid never changes there).
 */

/** Package managers set this in every script they run (npm, yarn, pnpm). */
const SCRIPT_ENV = 'npm_lifecycle_event'
const CHECK_EVERY_MS = 500

export interface ScriptParentOptions {
  env?: NodeJS.ProcessEnv
  /** @default process.platform */
  platform?: NodeJS.Platform
  /** The parent pid now (for tests). @default () => process.ppid */
  ppid?: () => number
  /** @default 500 */
  intervalMs?: number
}

/** Whether `env` is that of a package script (`npm start`, `npm run ...`). */
export function inPackageScript (env: NodeJS.ProcessEnv = process.env): boolean {
  return env[SCRIPT_ENV] !== undefined
}

/**
 * Calls `onGone` once if this process runs from a package script and its
 * parent process exits. Returns a function that stops watching.
 */
export function watchScriptParent (onGone: () => void, opts: ScriptParentOptions = {}): () => void {
  if (!inPackageScript(opts.env) || (opts.platform ?? process.platform) === 'win32') return () => {}
  const ppid = opts.ppid ?? (() => process.ppid)
  const parent = ppid()
  const timer = setInterval(() => {
    if (ppid() === parent) return
    clearInterval(timer)
    onGone()
  }, opts.intervalMs ?? CHECK_EVERY_MS)
  timer.unref()
  return () => { clearInterval(timer) }
}
