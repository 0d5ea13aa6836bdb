/**
 * Test-side client of test/fixtures/lan-node.ts: a REPRAM node in a child
 * process, spoken to with JSON lines. Every wait has a deadline, and when the
 * child dies, pending waits fail at once with its exit code and stderr tail.
 *
 * @example
 * ```ts
 * const a = spawnLanNode(lan.hosts[0], { network: 'demo' })
 * try {
 *   await a.ready()
 *   await a.request('put', { key: 'k', value: 'v', ttl: 60_000 })
 *   await a.waitForEvent('peer:join', e => e.peerId === other.peerId)
 * } finally {
 *   await a.stop()
 * }
 * ```
 */
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { LanHost } from './netns.ts'

export const LAN_NODE_FIXTURE = fileURLToPath(new URL('../fixtures/lan-node.ts', import.meta.url))

/** One event line printed by the fixture. */
export interface NodeEvent {
  event: string
  /** When the child printed it, epoch ms. */
  at: number
  [field: string]: unknown
}

export interface ReadyEvent extends NodeEvent {
  peerId: string
  multiaddrs: string[]
  network: string
  netns: string | null
}

export interface WaitOptions {
  /** Deadline, ms. @default 15000 */
  timeout?: number
}

export interface LanNodeOptions {
  /** @default 'repram' (the node's default) */
  network?: string
  /** mDNS announce/query period, ms; `false` turns mDNS off. @default 500 */
  mdns?: number | false
  /** @default ['/ip4/0.0.0.0/tcp/0'] */
  listen?: string[]
  /** @default [] */
  bootstrap?: string[]
  /** @default 100 */
  minTtl?: number
  /** Anti-entropy period, ms. @default the node's default */
  syncInterval?: number
  /** Further RepramNodeInit fields, as JSON. */
  init?: Record<string, unknown>
  /** Name used in error messages. @default the host's name */
  label?: string
}

const DEFAULT_TIMEOUT_MS = 15_000
const STDERR_TAIL = 4000

/** An error reported by the child for a command, with the remote error's name (e.g. `InvalidTtlError`). */
export class RemoteError extends Error {
  readonly code?: string
  constructor (name: string, message: string, code?: string) {
    super(message)
    this.name = name
    this.code = code
  }
}

interface Pending {
  resolve: (value: unknown) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

interface Waiter {
  matches: (event: NodeEvent) => boolean
  resolve: (event: NodeEvent) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export class NodeProcess {
  readonly child: ChildProcess
  readonly label: string
  /** Every event line received so far, in order. */
  readonly events: NodeEvent[] = []
  #nextId = 1
  #stderr = ''
  #exit?: { code: number | null, signal: NodeJS.Signals | null }
  readonly #exited: Promise<void>
  readonly #pending = new Map<number, Pending>()
  readonly #waiters = new Set<Waiter>()
  #ready?: ReadyEvent

  /** Wraps a child started with stdio `['pipe', 'pipe', 'pipe']`. */
  constructor (child: ChildProcess, opts: { label?: string } = {}) {
    if (child.stdin == null || child.stdout == null || child.stderr == null) throw new TypeError('the child needs piped stdin, stdout and stderr')
    this.child = child
    this.label = opts.label ?? `pid ${child.pid}`
    child.stdin.on('error', () => {}) // EPIPE after the child died is reported through 'exit'
    child.stderr.on('data', (d: Buffer) => { this.#stderr = (this.#stderr + d.toString()).slice(-STDERR_TAIL) })
    createInterface({ input: child.stdout }).on('line', line => this.#onLine(line))
    this.#exited = new Promise(resolve => {
      // 'close', not 'exit': it comes after the last stdout line was read,
      // so a fatal line printed just before exiting is never missed.
      child.once('close', (code, signal) => {
        this.#exit = { code, signal }
        const err = new Error(`${this.label} exited (${this.#exitText()})`)
        for (const p of this.#pending.values()) { clearTimeout(p.timer); p.reject(err) }
        this.#pending.clear()
        for (const w of this.#waiters) { clearTimeout(w.timer); w.reject(this.#explain(`${err.message} before the awaited event`)) }
        this.#waiters.clear()
        resolve()
      })
    })
  }

  /** The child's last stderr output, for diagnostics. */
  get stderr (): string {
    return this.#stderr
  }

  get exited (): boolean {
    return this.#exit !== undefined
  }

  /** Peer id from the ready event; throws before it. */
  get peerId (): string {
    if (this.#ready === undefined) throw new Error(`${this.label} is not ready yet`)
    return this.#ready.peerId
  }

  /** Waits for the node to have started. */
  async ready (opts: WaitOptions = {}): Promise<ReadyEvent> {
    const fatal = this.events.find(e => e.event === 'fatal')
    if (fatal !== undefined) throw this.#fatalError(fatal)
    const event = await this.waitForEvent('ready', undefined, opts)
    return event as ReadyEvent
  }

  /**
   * Resolves with the first event of this type (matching `filter`) received so
   * far or from now on: events that came before the call count, so there is no race.
   */
  waitForEvent (type: string, filter?: (event: NodeEvent) => boolean, opts: WaitOptions = {}): Promise<NodeEvent> {
    const matches = (e: NodeEvent): boolean => (e.event === type && (filter === undefined || filter(e))) || (type === 'ready' && e.event === 'fatal')
    const seen = this.events.find(matches)
    if (seen !== undefined) return seen.event === 'fatal' && type !== 'fatal' ? Promise.reject(this.#fatalError(seen)) : Promise.resolve(seen)
    if (this.#exit !== undefined) return Promise.reject(this.#explain(`${this.label} exited (${this.#exitText()}) without a "${type}" event`))
    const timeout = opts.timeout ?? DEFAULT_TIMEOUT_MS
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        matches,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter)
          reject(this.#explain(`${this.label}: no "${type}" event${filter !== undefined ? ' matching the filter' : ''} within ${timeout} ms`))
        }, timeout)
      }
      this.#waiters.add(waiter)
    })
  }

  /** Sends a command and resolves with its result; rejects with a `RemoteError` named like the node's error. */
  request<T = unknown> (op: string, params: Record<string, unknown> = {}, opts: WaitOptions = {}): Promise<T> {
    if (this.#exit !== undefined) return Promise.reject(this.#explain(`${this.label} has exited (${this.#exitText()}); cannot send "${op}"`))
    const id = this.#nextId++
    const timeout = opts.timeout ?? DEFAULT_TIMEOUT_MS
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(this.#explain(`${this.label}: no reply to "${op}" within ${timeout} ms`))
      }, timeout)
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer })
      this.child.stdin!.write(JSON.stringify({ ...params, id, op }) + '\n')
    })
  }

  /**
   * Asks the node to stop and waits for the process to exit; kills it when the
   * deadline passes. Safe to call more than once and after the child died.
   * Resolves with the exit code (null when killed).
   */
  async stop (opts: WaitOptions = {}): Promise<number | null> {
    if (this.#exit === undefined) {
      const timeout = opts.timeout ?? 10_000
      this.request('stop', {}, { timeout }).catch(() => {})
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<boolean>(resolve => { timer = setTimeout(() => resolve(true), timeout) })
      if (await Promise.race([this.#exited.then(() => false), late])) this.child.kill('SIGKILL')
      clearTimeout(timer)
      await this.#exited
    }
    return this.#exit!.code
  }

  #onLine (line: string): void {
    let msg: Record<string, unknown>
    try {
      msg = JSON.parse(line)
    } catch {
      this.#stderr = (this.#stderr + `[stdout] ${line}\n`).slice(-STDERR_TAIL)
      return
    }
    if (typeof msg.id === 'number') {
      const pending = this.#pending.get(msg.id)
      if (pending === undefined) return
      this.#pending.delete(msg.id)
      clearTimeout(pending.timer)
      if (msg.error != null) {
        const e = msg.error as { name: string, message: string, code?: string }
        pending.reject(new RemoteError(e.name, e.message, e.code))
      } else pending.resolve(msg.result)
      return
    }
    if (typeof msg.event !== 'string') return
    const event = msg as NodeEvent
    this.events.push(event)
    if (event.event === 'ready') this.#ready = event as ReadyEvent
    for (const w of this.#waiters) {
      if (!w.matches(event)) continue
      this.#waiters.delete(w)
      clearTimeout(w.timer)
      if (event.event === 'fatal') w.reject(this.#fatalError(event))
      else w.resolve(event)
    }
  }

  #fatalError (event: NodeEvent): Error {
    const e = event.error as { name: string, message: string }
    return this.#explain(`${this.label} failed to start: ${e.name}: ${e.message}`)
  }

  #exitText (): string {
    const exit = this.#exit
    if (exit === undefined) return 'running'
    return exit.signal != null ? `signal ${exit.signal}` : `code ${exit.code}`
  }

  #explain (message: string): Error {
    const tail = this.#stderr.trim()
    return new Error(tail === '' ? message : `${message}\n--- stderr of ${this.label} ---\n${tail}`)
  }
}

/** Command-line arguments of the fixture for these options. */
export function lanNodeArgs (opts: LanNodeOptions = {}): string[] {
  const args = [LAN_NODE_FIXTURE]
  if (opts.init !== undefined) args.push('--init', JSON.stringify(opts.init))
  if (opts.network !== undefined) args.push('--network', opts.network)
  if (opts.mdns === false) args.push('--no-mdns')
  else args.push('--mdns-interval', String(opts.mdns ?? 500))
  for (const addr of opts.listen ?? []) args.push('--listen', addr)
  for (const addr of opts.bootstrap ?? []) args.push('--bootstrap', addr)
  if (opts.minTtl !== undefined) args.push('--min-ttl', String(opts.minTtl))
  if (opts.syncInterval !== undefined) args.push('--sync-interval', String(opts.syncInterval))
  return args
}

/** Starts the fixture node inside a LAN host (call `ready()` on the result). */
export function spawnLanNode (host: Pick<LanHost, 'name' | 'spawn'>, opts: LanNodeOptions = {}): NodeProcess {
  const child = host.spawn(process.execPath, lanNodeArgs(opts), { stdio: ['pipe', 'pipe', 'pipe'] })
  return new NodeProcess(child, { label: opts.label ?? host.name })
}
