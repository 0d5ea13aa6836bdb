/**
 * Real child processes for the CLI tests: `repram` commands run to
 * completion, and long-running nodes (`repram start --json`, the example
 * node) read line by line. Every wait has a deadline; every process started
 * here is tracked so `killAll()` can clean up after a failed test.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url))

const live = new Set<ChildProcess>()

/** The parent's environment without any REPRAM_* or PORT setting, so tests see only what they pass. */
export function cleanEnv (extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('REPRAM_') && k !== 'PORT' && k !== 'DEBUG') env[k] = v
  }
  return { ...env, NO_COLOR: '1', ...extra }
}

/** Refuses to start a node that could send multicast on this machine's network. */
function assertNoMdns (args: string[], env: Record<string, string>): void {
  if (!args.includes('--no-mdns') && env.REPRAM_MDNS !== '0') {
    throw new Error('test bug: every node started by the CLI tests must run with --no-mdns or REPRAM_MDNS=0')
  }
}

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: Buffer
  stderr: string
  /** stdout as UTF-8. */
  out: string
}

/** Runs `node <script> ...args` to completion (default script: the CLI), with a deadline. */
export function run (args: string[], opts: { env?: Record<string, string>, input?: Uint8Array | string, timeout?: number, script?: string } = {}): Promise<CliResult> {
  const timeout = opts.timeout ?? 20_000
  const env = opts.env ?? cleanEnv()
  if (args[0] === 'start' && !args.includes('--help')) assertNoMdns(args, env)
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [opts.script ?? CLI, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] })
    live.add(child)
    const out: Buffer[] = []
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { out.push(d) })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`repram ${args.join(' ')} did not finish within ${timeout} ms; stderr: ${stderr.slice(-2000)}`))
    }, timeout)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      live.delete(child)
      const stdout = Buffer.concat(out)
      resolve({ code, signal, stdout, stderr, out: stdout.toString('utf8') })
    })
    child.stdin.on('error', () => {})
    child.stdin.end(opts.input)
  })
}

export interface Line {
  text: string
  /** Parsed when the line is JSON. */
  json?: Record<string, any>
}

/** A long-running process whose stdout is read line by line. */
export class LineProcess {
  readonly child: ChildProcess
  readonly lines: Line[] = []
  stderr = ''
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  readonly #label: string
  #waiters: Array<() => void> = []
  #exit?: { code: number | null, signal: NodeJS.Signals | null }

  constructor (script: string, args: string[], env: Record<string, string>, label: string) {
    this.#label = label
    this.child = spawn(process.execPath, [script, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    live.add(this.child)
    createInterface({ input: this.child.stdout! }).on('line', text => {
      let json: Record<string, any> | undefined
      if (text.startsWith('{')) { try { json = JSON.parse(text) } catch {} }
      this.lines.push({ text, json })
      this.#wake()
    })
    this.child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString() })
    this.exited = new Promise(resolve => {
      this.child.on('close', (code, signal) => {
        live.delete(this.child)
        this.#exit = { code, signal }
        this.#wake()
        resolve({ code, signal })
      })
    })
  }

  #wake (): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }

  /** Everything printed so far, for failure messages. */
  output (): string {
    return `--- ${this.#label} stdout:\n${this.lines.map(l => l.text).join('\n')}\n--- stderr:\n${this.stderr.slice(-3000)}`
  }

  /** Resolves with the first line (already printed or to come) that `match` accepts. Fails at the deadline or if the process exits first. */
  async waitForLine (match: (line: Line) => boolean, what: string, timeout = 20_000): Promise<Line> {
    const deadline = Date.now() + timeout
    let seen = 0
    for (;;) {
      for (; seen < this.lines.length; seen++) {
        if (match(this.lines[seen])) return this.lines[seen]
      }
      if (this.#exit !== undefined) throw new Error(`${this.#label} exited (code ${this.#exit.code}, signal ${this.#exit.signal}) before ${what}\n${this.output()}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out after ${timeout} ms waiting for ${what} from ${this.#label}\n${this.output()}`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  /** Waits for the JSON line `{ "event": event, ... }` that `filter` accepts. */
  async waitForEvent (event: string, filter: (json: Record<string, any>) => boolean = () => true, timeout?: number): Promise<Record<string, any>> {
    const line = await this.waitForLine(l => l.json?.event === event && filter(l.json), `event "${event}"`, timeout)
    return line.json as Record<string, any>
  }

  /** Sends `signal` and resolves with the exit; SIGKILLs at the deadline and fails. */
  async stop (signal: NodeJS.Signals = 'SIGTERM', timeout = 15_000): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
    if (this.#exit !== undefined) return this.#exit
    this.child.kill(signal)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL')
        reject(new Error(`${this.#label} did not exit within ${timeout} ms of ${signal}\n${this.output()}`))
      }, timeout)
    })
    try {
      return await Promise.race([this.exited, late])
    } finally {
      clearTimeout(timer)
    }
  }
}

/** What a started node printed about itself. */
export interface NodeInfo {
  peerId: string
  multiaddrs: string[]
  http: string | null
}

/** `repram start --json ...args` (mDNS must be off), resolved once its startup line is out. */
export async function startNode (args: string[], opts: { env?: Record<string, string>, label?: string } = {}): Promise<{ proc: LineProcess, info: NodeInfo }> {
  const env = opts.env ?? cleanEnv()
  const fullArgs = ['start', '--json', ...args]
  assertNoMdns(fullArgs, env)
  const proc = new LineProcess(CLI, fullArgs, env, opts.label ?? 'repram start')
  const started = await proc.waitForEvent('started')
  return { proc, info: started as unknown as NodeInfo }
}

/** Loopback-only flags for a test node. */
export const LOOPBACK = ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--http-port', '0']

/** Kills every process these helpers started that is still running. */
export function killAll (): void {
  for (const child of live) child.kill('SIGKILL')
  live.clear()
}
