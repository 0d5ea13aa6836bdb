/**
 * A throwaway LAN of Linux network namespaces, for tests that need real
 * multicast (mDNS) between real hosts without touching the machine's own
 * network.
 *
 * Topology of one LAN:
 *
 *   <prefix>-<pid>-<n>-sw   "switch" namespace holding bridge br0 (no address)
 *        |  p1, p2, ...     veth ends enslaved to br0
 *   <prefix>-<pid>-<n>-h1   host namespace: lo, eth0 = 10.X.Y.1/24, route 224.0.0.0/4 dev eth0
 *   <prefix>-<pid>-<n>-h2   ...
 *
 * Nothing is added to the namespace this process runs in: no bridge, no veth
 * end, no route. The only link out of a host namespace is its veth into the
 * switch, so traffic (multicast included) never leaves the LAN.
 *
 * Cleanup: `destroy()` (call it in a `finally`) kills what was spawned and
 * deletes every namespace; an `exit`/SIGINT/SIGTERM hook does the same
 * synchronously, best effort; and the first `createLan()` of a process
 * deletes namespaces of this harness left behind by processes that no longer
 * exist (e.g. a test file killed by the runner's deadline).
 *
 * Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and iproute2. Tests call
 * `netnsSupport()` first and skip, saying why, when it is not ok.
 *
 * @example
 * ```ts
 * const lan = await createLan({ hosts: 3 })
 * try {
 *   const child = lan.hosts[0].spawn(process.execPath, ['server.ts'])
 *   const { stdout } = await lan.hosts[1].exec('ip', ['-br', 'addr'])
 *   const late = await lan.addHost()
 * } finally {
 *   await lan.destroy()
 * }
 * ```
 */
import { execFile, execFileSync, spawn } from 'node:child_process'
import type { ChildProcess, SpawnOptions } from 'node:child_process'
import { statSync } from 'node:fs'
import { constants as osConstants } from 'node:os'

/** Env var set for every process spawned in a host: the name of its namespace. */
export const NETNS_ENV = 'REPRAM_TEST_NETNS'

/** Namespace name prefix used when `createLan` is given none. */
export const DEFAULT_PREFIX = 'rpt'

export interface CreateLanOptions {
  /** Hosts to create at once (more can join later with `addHost()`). 1-200. @default 3 */
  hosts?: number
  /**
   * First part of every namespace name, so `ip netns list` shows which suite
   * made them and the stale sweep only touches this harness's names.
   * 1-6 lowercase letters or digits.
   * @default 'rpt'
   */
  prefix?: string
}

export interface ExecResult {
  stdout: string
  stderr: string
  /** Exit code; 128 + signal number when killed by a signal. */
  code: number
}

export interface LanHost {
  /** Network namespace name. */
  readonly name: string
  /** IPv4 address of the host's eth0 on the LAN, e.g. `10.77.3.1`. */
  readonly ip: string
  /**
   * Runs `ip netns exec <name> command ...args`. The child gets `REPRAM_TEST_NETNS=<name>`
   * in its environment and is killed by `lan.destroy()` if still running.
   */
  spawn: (command: string, args: string[], opts?: SpawnOptions) => ChildProcess
  /** Runs a command in the host to completion. Rejects when it outlives `timeout` (ms, default 10000). */
  exec: (command: string, args: string[], opts?: { timeout?: number }) => Promise<ExecResult>
}

export interface Lan {
  /** Hosts in creation order (hosts added later are appended). */
  readonly hosts: readonly LanHost[]
  /** The LAN's private subnet, e.g. `10.77.3.0/24`; unique per LAN among running test processes. */
  readonly subnet: string
  /** Creates one more host on the same bridge (a machine joining the LAN later). */
  addHost: () => Promise<LanHost>
  /**
   * Kills every process spawned in the LAN (SIGTERM, then SIGKILL after a grace
   * period, then anything else still inside the namespaces) and deletes every
   * namespace, which removes the veths and the bridge. Idempotent.
   */
  destroy: () => Promise<void>
}

export type NetnsSupport = { ok: true } | { ok: false, reason: string }

const PREFIX_RE = /^[a-z0-9]{1,6}$/
const MAX_HOSTS = 200
const KILL_GRACE_MS = 3000
const LINK_UP_TIMEOUT_MS = 5000

function errorText (err: unknown): string {
  const stderr = (err as { stderr?: unknown }).stderr
  if (stderr != null && String(stderr).trim() !== '') return String(stderr).trim()
  return err instanceof Error ? err.message : String(err)
}

/** Runs `ip ...args`; rejects with the command line and ip's stderr. */
function ip (args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err != null) reject(new Error(`ip ${args.join(' ')} failed: ${stderr.trim() || err.message}`))
      else resolve(stdout)
    })
  })
}

function ipSync (args: string[]): string {
  return execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).toString()
}

let support: NetnsSupport | undefined

/**
 * Whether this process can build LANs: Linux, root, iproute2, and the kernel
 * lets us create a namespace with a bridge and a veth pair. Cached. When not
 * ok, `reason` is a one-line message suitable for a skipped test.
 */
export function netnsSupport (): NetnsSupport {
  if (support !== undefined) return support
  support = probe()
  return support
}

function probe (): NetnsSupport {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'creating network namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN); CI runs as root' }
  try {
    ipSync(['-V'])
  } catch {
    return { ok: false, reason: 'iproute2 is not installed (the `ip` command is missing; apt-get install -y iproute2)' }
  }
  const name = `${DEFAULT_PREFIX}-${process.pid.toString(36)}-0-probe`
  try { ipSync(['netns', 'del', name]) } catch {} // left by an earlier process with this pid
  try {
    ipSync(['netns', 'add', name])
    ipSync(['-n', name, 'link', 'add', 'br0', 'type', 'bridge'])
    ipSync(['-n', name, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1'])
    return { ok: true }
  } catch (err) {
    return { ok: false, reason: `cannot create a network namespace with a bridge and a veth pair: ${errorText(err)}` }
  } finally {
    try { ipSync(['netns', 'del', name]) } catch {}
  }
}

/**
 * The namespace this process runs in, when it is one made by this harness:
 * `REPRAM_TEST_NETNS` names it AND `/proc/self/ns/net` is that very namespace.
 * Programs that would send multicast (mDNS) check this before doing so, so a
 * stray environment variable alone cannot switch it on in the machine's own network.
 */
export function currentTestNetns (): string | undefined {
  const name = process.env[NETNS_ENV]
  if (name === undefined || !/^[a-z0-9]{1,6}-[0-9a-z]+-[0-9a-z]+-h\d+$/.test(name)) return undefined
  try {
    const self = statSync('/proc/self/ns/net', { bigint: true })
    const named = statSync(`/run/netns/${name}`, { bigint: true })
    return self.dev === named.dev && self.ino === named.ino ? name : undefined
  } catch {
    return undefined
  }
}

/** LANs not yet destroyed, for the exit hook. */
const live = new Set<LanImpl>()
const swept = new Set<string>()
let counter = 0
let hooksInstalled = false

function installExitHooks (): void {
  if (hooksInstalled) return
  hooksInstalled = true
  process.on('exit', cleanupAllSync)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanupAllSync()
      process.exit(128 + osConstants.signals[signal])
    })
  }
}

function cleanupAllSync (): void {
  for (const lan of live) lan.destroySync()
}

function pidAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Kills whatever still runs inside a namespace (grandchildren included). */
function killNamespacePids (name: string): void {
  let out = ''
  try { out = ipSync(['netns', 'pids', name]) } catch { return }
  for (const pid of out.split(/\s+/).filter(Boolean).map(Number)) {
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
}

/** Deletes namespaces with this prefix whose creating process is gone. */
function sweepStale (prefix: string): void {
  if (swept.has(prefix)) return
  swept.add(prefix)
  const re = new RegExp(`^${prefix}-([0-9a-z]+)-[0-9a-z]+-(sw|h\\d+|probe)$`)
  let list = ''
  try { list = ipSync(['netns', 'list']) } catch { return }
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0]
    const match = re.exec(name)
    if (match == null) continue
    const pid = parseInt(match[1], 36)
    if (pid === process.pid || pidAlive(pid)) continue
    killNamespacePids(name)
    try { ipSync(['netns', 'del', name]) } catch {}
  }
}

/**
 * A /24 per LAN: 10.(64..127).(0..255).0, from the low 10 bits of the pid and
 * a 4-bit counter, so concurrently running test files get different subnets.
 * (Isolation does not depend on it: each LAN is its own set of namespaces.
 * Distinct subnets keep addresses in logs unambiguous.)
 */
function subnetBase (seq: number): string {
  const n = ((process.pid & 0x3ff) << 4) | (seq & 0xf)
  return `10.${64 + (n >> 8)}.${n & 0xff}`
}

class HostImpl implements LanHost {
  readonly name: string
  readonly ip: string
  readonly #lan: LanImpl

  constructor (lan: LanImpl, name: string, ipAddress: string) {
    this.#lan = lan
    this.name = name
    this.ip = ipAddress
  }

  spawn (command: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    if (this.#lan.destroyed) throw new Error(`LAN ${this.#lan.subnet} is destroyed`)
    const child = spawn('ip', ['netns', 'exec', this.name, command, ...args], {
      ...opts,
      env: { ...(opts.env ?? process.env), [NETNS_ENV]: this.name }
    })
    this.#lan.track(child)
    return child
  }

  exec (command: string, args: string[], opts: { timeout?: number } = {}): Promise<ExecResult> {
    const timeout = opts.timeout ?? 10_000
    return new Promise((resolve, reject) => {
      const child = this.spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout?.on('data', (d: Buffer) => { stdout += d.toString() })
      child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`${command} ${args.join(' ')} in ${this.name} did not finish within ${timeout} ms; stdout: ${stdout.slice(-500)} stderr: ${stderr.slice(-500)}`))
      }, timeout)
      child.on('error', err => {
        clearTimeout(timer)
        reject(err)
      })
      child.on('close', (code, signal) => {
        clearTimeout(timer)
        resolve({ stdout, stderr, code: code ?? 128 + (signal != null ? osConstants.signals[signal] : 0) })
      })
    })
  }
}

class LanImpl implements Lan {
  readonly hosts: HostImpl[] = []
  readonly subnet: string
  destroyed = false
  readonly #base: string
  readonly #namePrefix: string
  readonly #switch: string
  readonly #children = new Set<ChildProcess>()
  /** Every namespace created (or being created), hosts first, switch last. */
  readonly #namespaces: string[] = []
  #destroying?: Promise<void>
  #adding: Promise<unknown> = Promise.resolve()

  constructor (prefix: string, seq: number) {
    this.#base = subnetBase(seq)
    this.subnet = `${this.#base}.0/24`
    this.#namePrefix = `${prefix}-${process.pid.toString(36)}-${seq.toString(36)}`
    this.#switch = `${this.#namePrefix}-sw`
  }

  track (child: ChildProcess): void {
    this.#children.add(child)
    child.on('exit', () => this.#children.delete(child))
  }

  async createSwitch (): Promise<void> {
    this.#namespaces.push(this.#switch)
    await ip(['netns', 'add', this.#switch])
    // Snooping off: with no IGMP querier on the LAN the bridge would otherwise
    // be free to stop forwarding multicast to ports it has not seen reports from.
    await ip(['-n', this.#switch, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0', 'forward_delay', '0', 'stp_state', '0'])
    await ip(['-n', this.#switch, 'link', 'set', 'br0', 'up'])
  }

  addHost (): Promise<LanHost> {
    // Serialised: host numbers and the namespace list must not interleave.
    const next = this.#adding.then(async () => await this.#addHost())
    this.#adding = next.catch(() => {})
    return next
  }

  async #addHost (): Promise<LanHost> {
    if (this.destroyed) throw new Error(`LAN ${this.subnet} is destroyed`)
    const index = this.hosts.length + 1
    if (index > MAX_HOSTS) throw new Error(`a LAN holds at most ${MAX_HOSTS} hosts`)
    const name = `${this.#namePrefix}-h${index}`
    const port = `p${index}`
    const address = `${this.#base}.${index}`
    this.#namespaces.unshift(name)
    await ip(['netns', 'add', name])
    await ip(['-n', name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', this.#switch])
    await ip(['-n', this.#switch, 'link', 'set', port, 'master', 'br0'])
    await ip(['-n', this.#switch, 'link', 'set', port, 'up'])
    await ip(['-n', name, 'link', 'set', 'lo', 'up'])
    await ip(['-n', name, 'addr', 'add', `${address}/24`, 'dev', 'eth0'])
    await ip(['-n', name, 'link', 'set', 'eth0', 'up'])
    // A fresh namespace has no default route, so multicast sends fail with
    // ENETUNREACH unless the multicast range is routed to the LAN.
    await ip(['-n', name, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0'])
    await this.#waitLinkUp(name)
    const host = new HostImpl(this, name, address)
    this.hosts.push(host)
    return host
  }

  async #waitLinkUp (name: string): Promise<void> {
    const deadline = Date.now() + LINK_UP_TIMEOUT_MS
    for (;;) {
      const out = await ip(['-n', name, '-o', 'link', 'show', 'eth0'])
      if (/\bLOWER_UP\b/.test(out) && /state UP\b/.test(out)) return
      if (Date.now() > deadline) throw new Error(`eth0 in ${name} did not come up within ${LINK_UP_TIMEOUT_MS} ms: ${out.trim()}`)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  }

  destroy (): Promise<void> {
    this.#destroying ??= this.#destroy()
    return this.#destroying
  }

  async #destroy (): Promise<void> {
    this.destroyed = true
    await this.#adding
    const children = [...this.#children]
    const exited = children.map(child => new Promise<void>(resolve => {
      if (child.exitCode !== null || child.signalCode !== null) resolve()
      else child.once('exit', () => resolve())
    }))
    for (const child of children) child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all(exited),
      new Promise(resolve => { timer = setTimeout(resolve, KILL_GRACE_MS) })
    ])
    clearTimeout(timer)
    this.destroySync()
    const left = this.#namespaces.filter(name => namespaceExists(name))
    if (left.length > 0) throw new Error(`could not delete network namespaces: ${left.join(', ')}`)
  }

  /** Synchronous teardown for the exit hook; also the last step of `destroy()`. */
  destroySync (): void {
    this.destroyed = true
    for (const child of this.#children) {
      try { child.kill('SIGKILL') } catch {}
    }
    for (const name of this.#namespaces) {
      killNamespacePids(name)
      try { ipSync(['netns', 'del', name]) } catch {}
    }
    live.delete(this)
  }
}

function namespaceExists (name: string): boolean {
  try {
    statSync(`/run/netns/${name}`)
    return true
  } catch {
    return false
  }
}

/**
 * Builds a LAN of `hosts` namespaces on one bridge. Throws (after removing
 * whatever it had created) when a step fails; call `netnsSupport()` first.
 */
export async function createLan (opts: CreateLanOptions = {}): Promise<Lan> {
  const hosts = opts.hosts ?? 3
  const prefix = opts.prefix ?? DEFAULT_PREFIX
  if (!Number.isInteger(hosts) || hosts < 1 || hosts > MAX_HOSTS) throw new RangeError(`hosts must be an integer in [1, ${MAX_HOSTS}], got ${hosts}`)
  if (!PREFIX_RE.test(prefix)) throw new RangeError(`prefix must be 1-6 lowercase letters or digits, got ${JSON.stringify(prefix)}`)
  const check = netnsSupport()
  if (!check.ok) throw new Error(`cannot build a LAN: ${check.reason}`)

  installExitHooks()
  sweepStale(prefix)
  const lan = new LanImpl(prefix, ++counter)
  live.add(lan)
  try {
    await lan.createSwitch()
    for (let i = 0; i < hosts; i++) await lan.addHost()
  } catch (err) {
    lan.destroySync()
    throw err
  }
  return lan
}

/**
 * Cuts `from` off from `to`: a `prohibit` route to its address, and the open
 * connections to it killed now rather than when a keep-alive times out (best
 * effort: needs socket destroy support in the kernel). Multicast still flows.
 */
export async function cutRoute (from: LanHost, to: LanHost): Promise<void> {
  const added = await from.exec('ip', ['route', 'add', 'prohibit', `${to.ip}/32`])
  if (added.code !== 0) throw new Error(`ip route add prohibit ${to.ip}/32 in ${from.name}: ${added.stderr}`)
  await from.exec('ss', ['-K', 'dst', to.ip])
}

/** Undoes {@link cutRoute}. */
export async function healRoute (from: LanHost, to: LanHost): Promise<void> {
  const removed = await from.exec('ip', ['route', 'del', 'prohibit', `${to.ip}/32`])
  if (removed.code !== 0) throw new Error(`ip route del prohibit ${to.ip}/32 in ${from.name}: ${removed.stderr}`)
}
