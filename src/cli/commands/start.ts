/**
 * `repram start`: runs a node (and its HTTP API) in the foreground until
 * SIGINT/SIGTERM, then stops it cleanly and exits 0.
 */
import { readFile, stat } from 'node:fs/promises'
import { parseCommandLine } from '../args.ts'
import { CommandError, UsageError, EXIT } from '../errors.ts'
import { clockTime, formatBytes, previewValue, shortPeerId } from '../format.ts'
import { SCRIPT_ENDED, describeInterrupt, onInterrupt } from '../signals.ts'
import type { Interrupt } from '../signals.ts'
import { flagForField, resolveStartOptions, startFlagsHelp, startParseOptions } from '../start-options.ts'
import type { Env } from '../args.ts'
import type { StartDefaults, StartOptions, HttpOptions } from '../start-options.ts'
import type { RepramNode } from '../../index.ts'
import type { Change } from '../../types.ts'

export const START_HELP = `Usage: repram start [options]

Runs a REPRAM node in the foreground: it finds peers (mDNS on the LAN,
--bootstrap addresses, optionally the DHT), replicates every write among
them, and serves the HTTP API (REPRAM v1: /v1/data/{key} with X-TTL in
seconds). Prints its peer id, addresses and HTTP URL, then logs peers joining
and leaving. Ctrl-C or SIGTERM stops it (exit 0); run from an npm script
(npm start), it also stops when npm is stopped.

Options (each also read from the environment variable shown; flags win):
${startFlagsHelp()}

Durations are seconds (decimals allowed) or carry a unit: 500ms, 30s, 5m, 2h, 7d.

Examples:
  repram start                                   # LAN cluster via mDNS, HTTP on :8080
  repram start --no-mdns --http-port 8081 \\
    --bootstrap /ip4/10.0.0.1/tcp/4001/p2p/12D3KooW...
  REPRAM_MDNS=0 REPRAM_BOOTSTRAP_PEERS=/ip4/... PORT=9000 repram start`

/** How long a graceful stop may take before the process gives up and exits 1. */
const STOP_DEADLINE_MS = 15_000

type HttpServer = { url: string, close: () => Promise<void> }

function errorName (err: unknown): string | undefined {
  return (err as { name?: string } | null)?.name
}

/** An `InvalidConfigError` from the core, pointed at the flag that set the field. */
function configUsageError (err: any): UsageError {
  const flag = typeof err?.field === 'string' ? flagForField(err.field) : undefined
  const ms = /ttl|interval|skew/i.test(String(err?.field ?? '')) ? ' (the node counts milliseconds: 1 s = 1000)' : ''
  return new UsageError(`${String(err?.message ?? err)}${ms}${flag !== undefined ? `; set by ${flag}` : ''}`, 'start')
}

async function readPsk (opts: StartOptions): Promise<string | undefined> {
  if (opts.pskFile === undefined) return undefined
  try {
    return await readFile(opts.pskFile.value, 'utf8')
  } catch (err: any) {
    throw new UsageError(`${opts.pskFile.source}: cannot read ${JSON.stringify(opts.pskFile.value)} (${err?.code ?? err?.message})`, 'start')
  }
}

function isAddressInUse (err: any): boolean {
  return err?.code === 'EADDRINUSE' || err?.cause?.code === 'EADDRINUSE' || /EADDRINUSE/.test(String(err?.message))
}

async function serveHttp (node: RepramNode, http: HttpOptions, signal: AbortSignal, notice: (text: string) => void): Promise<HttpServer> {
  const { startHttpServer } = await import('../../http/index.ts')
  const open = (port: number): Promise<HttpServer> => startHttpServer(node, {
    port,
    host: http.host,
    signal,
    writeQuorum: http.writeQuorum,
    writeTimeout: http.writeTimeout,
    ...(http.rateLimit === undefined ? {} : { rateLimit: http.rateLimit }),
    ...(http.cors === undefined ? {} : { cors: http.cors })
  })
  try {
    return await open(http.port)
  } catch (err) {
    if (!isAddressInUse(err)) throw new CommandError(`cannot serve HTTP on ${http.host}:${http.port}: ${String((err as Error)?.message ?? err)}`, { cause: err })
    if (!http.portFallback) {
      throw new CommandError(`HTTP port ${http.port} on ${http.host} is in use (another repram node?): pass --http-port N (0 picks a free port), or --no-http`, { cause: err })
    }
    notice(`HTTP port ${http.port} is in use; using a free port instead`)
    return await open(0)
  }
}

function changeFields (change: Change): Record<string, unknown> {
  switch (change.type) {
    case 'set': return { key: change.key, bytes: change.entry.value.byteLength, expiresAt: change.entry.expiresAt, origin: change.entry.origin, local: change.local }
    case 'delete': return { key: change.key, origin: change.origin, local: change.local }
    case 'expire': return { key: change.key, expiresAt: change.expiresAt }
  }
}

function describeChange (change: Change): string {
  switch (change.type) {
    case 'set': return `set     ${JSON.stringify(change.key)} = ${previewValue(change.entry.value)}  ${formatBytes(change.entry.value.byteLength)}, ${change.local ? 'local' : `from ${shortPeerId(change.entry.origin)}`}`
    case 'delete': return `delete  ${JSON.stringify(change.key)}  ${change.local ? 'local' : `from ${shortPeerId(change.origin)}`}`
    case 'expire': return `expire  ${JSON.stringify(change.key)}`
  }
}

export async function runStart (argv: string[], env: Env, defaults: StartDefaults = {}): Promise<number> {
  const { values } = parseCommandLine('start', argv, startParseOptions())
  if (values.help === true) { process.stdout.write(START_HELP + '\n'); return EXIT.ok }
  const opts = resolveStartOptions(values, env, defaults)
  // The libp2p stack needs Node >= 22 (Promise.withResolvers); say so instead of failing deep inside it.
  if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
    throw new CommandError(`running a node needs Node.js 22 or later; this is ${process.version}`)
  }
  const emit = (event: string, text: string, fields: Record<string, unknown> = {}): void => {
    process.stdout.write(opts.json ? JSON.stringify({ event, time: Date.now(), ...fields }) + '\n' : `${clockTime()}  ${text}\n`)
  }
  // Listen for signals before the slow part (the swarm key, which may be a pipe that waits; libp2p's
  // loading; the start), so that Ctrl-C or SIGTERM then still stops cleanly.
  const interrupt = onInterrupt()
  try {
    return await runNode(opts, emit, interrupt)
  } finally {
    interrupt.dispose()
  }
}

type Emit = (event: string, text: string, fields?: Record<string, unknown>) => void

async function runNode (opts: StartOptions, emit: Emit, interrupt: Interrupt): Promise<number> {
  const interrupted = interrupt.signal
  const stopping = (): void => {
    const reason = interrupted.reason
    emit('stopping', `${describeInterrupt(reason)}, stopping…`, reason === SCRIPT_ENDED ? { reason: 'script ended' } : { signal: String(reason) })
  }
  // A swarm key in a regular file is read in no time; one from a pipe or a device may never come.
  const mayWait = opts.pskFile !== undefined && await stat(opts.pskFile.value).then(st => !st.isFile(), () => false)
  let reading = mayWait
  const psk = mayWait ? await unlessAborted(readPsk(opts).finally(() => { reading = false }), interrupted) : await readPsk(opts)
  if (interrupted.aborted) {
    if (reading) {
      // Nothing to stop yet, and a read of a pipe that nobody writes to would hold the process at
      // its exit: the signal's own effect ends it (SIGTERM's for an npm script that ended).
      interrupt.dispose()
      process.kill(process.pid, interrupted.reason === SCRIPT_ENDED ? 'SIGTERM' : interrupted.reason as NodeJS.Signals)
      return await new Promise<never>(() => {})
    }
    stopping()
    emit('stopped', 'stopped')
    return EXIT.ok
  }

  const { RepramNode } = await import('../../index.ts')
  let node: RepramNode
  try {
    node = new RepramNode(psk === undefined ? opts.init : { ...opts.init, psk })
  } catch (err) {
    if (errorName(err) === 'InvalidConfigError') throw configUsageError(err)
    throw err
  }

  // Registered before start() so no early peer is missed; held back until
  // the startup lines are out, which always come first.
  const held: Array<() => void> = []
  let startupPrinted = false
  const log = (event: string, text: string, fields: Record<string, unknown>): void => {
    if (startupPrinted) emit(event, text, fields)
    else held.push(() => { emit(event, text, fields) })
  }
  node.addEventListener('peer:join', evt => {
    const { peerId } = evt.detail
    const addresses = node.peerInfo().find(p => p.peerId === peerId)?.addresses ?? []
    const count = node.peers.length
    log('peer:join', `peer joined  ${shortPeerId(peerId)}  (${count} peer${count === 1 ? '' : 's'})${addresses.length > 0 ? '  ' + addresses[0] : ''}`, { peerId, addresses, peers: count })
  })
  node.addEventListener('peer:leave', evt => {
    const { peerId } = evt.detail
    const count = node.peers.length
    log('peer:leave', `peer left    ${shortPeerId(peerId)}  (${count} peer${count === 1 ? '' : 's'})`, { peerId, peers: count })
  })
  if (opts.verbose) {
    for (const type of ['entry:set', 'entry:delete', 'entry:expire'] as const) {
      node.addEventListener(type, evt => {
        const change = (evt as CustomEvent<Change>).detail
        log(change.type, describeChange(change), changeFields(change))
      })
    }
  }

  let server: HttpServer | undefined
  const shutdown = new AbortController()
  try {
    // Not started at all when the signal came while the command was loading.
    if (!interrupted.aborted) {
      try {
        await node.start()
      } catch (err) {
        if (errorName(err) === 'InvalidConfigError') throw configUsageError(err)
        throw new CommandError(`cannot start the node: ${String((err as Error)?.message ?? err)}`, { cause: err })
      }
      if (opts.http !== false && !interrupted.aborted) {
        // Held like the peer events: the startup lines (`started` with --json) come first.
        server = await serveHttp(node, opts.http, shutdown.signal, text => { log('notice', text, { message: text }) })
      }
      printStartup(node, opts, server?.url)
      for (const line of held.splice(0)) line()
      startupPrinted = true

      await new Promise<void>(resolve => {
        if (interrupted.aborted) resolve()
        else interrupted.addEventListener('abort', () => { resolve() }, { once: true })
      })
    }
    stopping()
  } finally {
    await stopAll(node, server, shutdown)
  }
  emit('stopped', 'stopped')
  return EXIT.ok
}

/** What `work` resolves to, or `undefined` as soon as `signal` aborts (the work goes on unheard). */
async function unlessAborted<T> (work: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return undefined
  let onAbort: (() => void) | undefined
  const aborted = new Promise<undefined>(resolve => {
    onAbort = () => { resolve(undefined) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([work, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort!)
  }
}

/**
 * Stops the HTTP server and the node, within {@link STOP_DEADLINE_MS}. The
 * server stops taking requests first; the node stops while the requests in
 * flight finish, since stopping it ends the waits of writes for their
 * confirmations (they answer 202: stored, not confirmed), which could
 * otherwise outlast the deadline (`--write-timeout`).
 */
async function stopAll (node: RepramNode, server: HttpServer | undefined, shutdown: AbortController): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new CommandError(`the node did not stop within ${STOP_DEADLINE_MS / 1000} s`)) }, STOP_DEADLINE_MS)
  })
  try {
    await Promise.race([(async () => {
      shutdown.abort()
      const closed = server?.close()
      if (node.started) await node.stop()
      await closed
    })(), deadline])
  } finally {
    clearTimeout(timer)
  }
}

function printStartup (node: RepramNode, opts: StartOptions, url: string | undefined): void {
  const init = opts.init
  const mdns = init.mdns !== false
  if (opts.json) {
    process.stdout.write(JSON.stringify({
      event: 'started',
      time: Date.now(),
      pid: process.pid,
      peerId: node.peerId,
      network: node.config.network,
      multiaddrs: node.multiaddrs,
      http: url ?? null,
      mdns,
      bootstrap: node.config.bootstrap,
      dht: node.config.dht
    }) + '\n')
    return
  }
  const [first, ...rest] = node.multiaddrs
  const lines = [
    `${opts.title} ${node.peerId}`,
    `  network    ${node.config.network}`,
    `  listening  ${first ?? '(no addresses)'}`,
    ...rest.map(a => `             ${a}`),
    `  http       ${url ?? 'off'}`,
    `  discovery  mDNS ${mdns ? 'on' : 'off'}, ${node.config.bootstrap.length} bootstrap peer${node.config.bootstrap.length === 1 ? '' : 's'}, DHT ${node.config.dht ? 'on' : 'off'}`
  ]
  if (opts.hints && url !== undefined) {
    // Another machine cannot dial a loopback address: suggest one it can.
    const shareable = node.multiaddrs.find(a => !/^\/ip4\/127\.|^\/ip6\/::1\//.test(a)) ?? first
    lines.push(
      '',
      'Try it (a value written on one node is readable on every node):',
      `  curl -X PUT -H 'X-TTL: 60' --data 'hello' ${url}/v1/data/greeting`,
      `  curl ${url}/v1/data/greeting`,
      `  curl ${url}/v1/status`,
      mdns
        ? 'Nodes started the same way on this LAN join on their own (mDNS); elsewhere, point them here:'
        : 'Join other nodes to this one with:',
      `  REPRAM_BOOTSTRAP_PEERS=${shareable ?? '<multiaddr>'}`
    )
  }
  lines.push('Ctrl-C to stop.')
  process.stdout.write(lines.join('\n') + '\n')
}
