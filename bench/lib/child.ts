/**
 * Child processes for the benchmarks, spoken to over Node's IPC channel.
 *
 * - `runChild(script, args)`: runs a script that computes one result and
 *   sends it back (`childMain` on the other side). Suites and measurements
 *   that must not share a heap or a CPU with the parent run this way.
 * - `Worker` / `serveCommands`: a long-lived child answering commands
 *   (`request(op, params)`) and pushing events, e.g. a node of a cluster
 *   whose nodes live in separate processes.
 *
 * Every wait has a deadline; a child that outlives it is killed by its pid.
 */
import { fork, type ChildProcess } from 'node:child_process'

export interface RunChildOptions {
  /** Flags for the child's Node (e.g. `--expose-gc`). */
  execArgv?: string[]
  /** Kill the child and reject after this long, ms. @default 300000 */
  timeoutMs?: number
  /** Name used in error messages. @default the script's file name */
  label?: string
}

type ResultMessage = { type: 'result', result: unknown } | { type: 'error', name: string, message: string, stack?: string }

/** Runs `script` (which calls `childMain`) and resolves with what it computed. */
export async function runChild<T> (script: string, args: string[] = [], opts: RunChildOptions = {}): Promise<T> {
  const label = opts.label ?? script.split('/').pop() ?? script
  const timeoutMs = opts.timeoutMs ?? 300_000
  const child = fork(script, args, { execArgv: opts.execArgv ?? [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return await new Promise<T>((resolve, reject) => {
    let settled = false
    let outcome: ResultMessage | undefined
    const timer = setTimeout(() => {
      if (settled) return
      settled = true
      child.kill('SIGKILL')
      reject(new Error(`${label}: no result within ${timeoutMs} ms (killed)`))
    }, timeoutMs)
    child.on('message', (msg: ResultMessage) => { outcome = msg })
    child.once('error', err => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      reject(err)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      if (settled) return
      settled = true
      if (outcome?.type === 'result') resolve(outcome.result as T)
      else if (outcome?.type === 'error') reject(Object.assign(new Error(`${label}: ${outcome.message}`), { name: outcome.name, stack: outcome.stack }))
      else reject(new Error(`${label} exited (${signal ?? `code ${code}`}) without a result`))
    })
  })
}

/**
 * The child side of `runChild`: runs `fn` with the command-line arguments,
 * sends its result (or error) to the parent and exits, whatever handles
 * (sockets, timers) are still open.
 */
export function childMain<T> (fn: (args: string[]) => Promise<T>): void {
  if (process.send === undefined) throw new Error('run this script through runChild() (it needs an IPC channel)')
  const send = (msg: ResultMessage, code: number): void => {
    process.send!(msg, undefined, {}, () => { process.exit(code) })
  }
  fn(process.argv.slice(2)).then(
    result => { send({ type: 'result', result }, 0) },
    (err: Error) => { send({ type: 'error', name: err.name, message: err.message, stack: err.stack }, 1) }
  )
}

// --- long-lived workers --------------------------------------------------------

interface Pending {
  resolve: (value: any) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

type WorkerMessage =
  | { type: 'reply', id: number, ok: true, result: unknown }
  | { type: 'reply', id: number, ok: false, name: string, message: string }
  | { type: 'event', event: string, data: any }

/** Parent side of a long-lived child answering commands (see `serveCommands`). */
export class Worker {
  readonly child: ChildProcess
  readonly label: string
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private readonly listeners = new Map<string, Set<(data: any) => void>>()
  private exit?: string
  private readonly exited: Promise<void>

  constructor (script: string, args: string[], opts: { label?: string, execArgv?: string[] } = {}) {
    this.label = opts.label ?? `worker ${script.split('/').pop()}`
    this.child = fork(script, args, { execArgv: opts.execArgv ?? [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.child.on('message', (msg: WorkerMessage) => { this.onMessage(msg) })
    this.exited = new Promise(resolve => {
      this.child.once('exit', (code, signal) => {
        this.exit = signal ?? `code ${code}`
        const err = new Error(`${this.label} exited (${this.exit})`)
        for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(err) }
        this.pending.clear()
        resolve()
      })
    })
  }

  /** Sends a command; resolves with its result, rejects with the child's error or at the deadline. */
  request<T = unknown> (op: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    if (this.exit !== undefined) return Promise.reject(new Error(`${this.label} has exited (${this.exit}); cannot send "${op}"`))
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`${this.label}: no reply to "${op}" within ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, { resolve, reject, timer })
      this.child.send({ id, op, params })
    })
  }

  /** Calls `fn` with the data of every `event` the child pushes. */
  on (event: string, fn: (data: any) => void): () => void {
    let set = this.listeners.get(event)
    if (set === undefined) this.listeners.set(event, set = new Set())
    set.add(fn)
    return () => { set.delete(fn) }
  }

  /** Asks the child to stop; kills it if it has not exited within `timeoutMs`. Idempotent. */
  async stop (timeoutMs = 10_000): Promise<void> {
    if (this.exit === undefined) {
      this.request('stop', {}, timeoutMs).catch(() => {})
      const timer = setTimeout(() => { this.child.kill('SIGKILL') }, timeoutMs)
      await this.exited
      clearTimeout(timer)
    }
  }

  private onMessage (msg: WorkerMessage): void {
    if (msg.type === 'event') {
      for (const fn of this.listeners.get(msg.event) ?? []) fn(msg.data)
      return
    }
    const p = this.pending.get(msg.id)
    if (p === undefined) return
    this.pending.delete(msg.id)
    clearTimeout(p.timer)
    if (msg.ok) p.resolve(msg.result)
    else p.reject(Object.assign(new Error(`${this.label}: ${msg.message}`), { name: msg.name }))
  }
}

export type CommandHandlers = Record<string, (params: any) => unknown>

/**
 * Child side of `Worker`: answers each command with its handler's result.
 * A `stop` handler, if given, runs before the process exits. The process
 * also exits when the parent goes away.
 */
export function serveCommands (handlers: CommandHandlers): { emit: (event: string, data: unknown) => void } {
  if (process.send === undefined) throw new Error('run this script as a Worker (it needs an IPC channel)')
  const send = (msg: WorkerMessage, cb?: () => void): void => { process.send!(msg, undefined, {}, cb) }
  process.on('message', (msg: { id: number, op: string, params: any }) => {
    const handler = handlers[msg.op]
    Promise.resolve()
      .then(async () => {
        if (handler === undefined && msg.op !== 'stop') throw new Error(`unknown command "${msg.op}"`)
        return await handler?.(msg.params)
      })
      .then(
        result => { send({ type: 'reply', id: msg.id, ok: true, result }, msg.op === 'stop' ? () => process.exit(0) : undefined) },
        (err: Error) => { send({ type: 'reply', id: msg.id, ok: false, name: err.name, message: err.message }, msg.op === 'stop' ? () => process.exit(1) : undefined) }
      )
  })
  process.on('disconnect', () => { process.exit(0) })
  return { emit: (event, data) => { send({ type: 'event', event, data }) } }
}
