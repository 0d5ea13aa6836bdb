/**
 * A package script run as users run it (`npm start`, `npm run fade`): npm,
 * then the shell npm starts, then the node process. Its stdout is read line
 * by line through the pipe npm hands down, which stays readable after npm
 * itself has exited. Every process of the run carries `marker` in its
 * environment, so that the node can be found (and anything left behind
 * killed) by it.
 */
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { waitFor } from './wait.ts'
import type { ChildProcess } from 'node:child_process'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const MARKER_VAR = 'REPRAM_TEST_MARKER'

export interface NpmScript {
  /** The npm process. */
  npm: ChildProcess
  lines: string[]
  /** Resolves when npm has exited. */
  npmExit: Promise<unknown>
  /** Everything printed so far, for failure messages. */
  output: () => string
  /** The first line (printed or to come) that `match` accepts; fails at the deadline. */
  waitForLine: (match: (line: string) => boolean, what: string, timeout?: number) => Promise<string>
  /** Pid of the node process running `script` (a path relative to the repository). */
  nodePid: (script: string) => Promise<number>
}

/** `npm <args>` in the repository with `env` (which must keep mDNS off), its processes marked with `marker`. */
export function runNpmScript (args: string[], env: Record<string, string>, marker: string): NpmScript {
  const npm = spawn('npm', args, { cwd: ROOT, env: { ...env, [MARKER_VAR]: marker }, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  let stderr = ''
  npm.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  createInterface({ input: npm.stdout! }).on('line', line => { lines.push(line) })
  const output = (): string => `--- npm ${args.join(' ')} stdout:\n${lines.join('\n')}\n--- stderr:\n${stderr.slice(-3000)}`
  return {
    npm,
    lines,
    npmExit: new Promise(resolve => { npm.once('exit', resolve) }),
    output,
    waitForLine: async (match, what, timeout) => await waitFor(() => lines.find(match), { timeout, message: `${what}\n${output()}` }),
    nodePid: async (script) => {
      const isNode = (pid: number): boolean => {
        try {
          const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0')
          return argv[0].endsWith('node') && argv[1] === script
        } catch { return false }
      }
      return await waitFor(() => markedPids(marker).find(isNode), { message: `the process of ${script}\n${output()}` })
    }
  }
}

/** Pids of the live processes started by `runNpmScript` with `marker` (Linux /proc). */
export function markedPids (marker: string): number[] {
  const entry = `${MARKER_VAR}=${marker}`
  const pids: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(entry)) pids.push(Number(name))
    } catch {} // gone meanwhile
  }
  return pids
}

/** SIGKILLs whatever `runNpmScript` with `marker` left running. */
export function killMarked (marker: string): void {
  for (const pid of markedPids(marker)) {
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
}
