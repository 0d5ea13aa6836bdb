/**
 * `repram` command dispatch: picks the command, runs it, and turns every
 * failure into one line on stderr and a documented exit code. Commands load
 * lazily, so the client commands start fast without loading libp2p.
 */
import { readFileSync } from 'node:fs'
import { CommandError, UsageError, EXIT } from './errors.ts'
import { holdInterrupts, releaseInterrupts } from './signals.ts'
import type { Env } from './args.ts'
import type { StartDefaults } from './start-options.ts'

export const MAIN_HELP = `Usage: repram <command> [options]

REPRAM: replicated ephemeral RAM. A peer-to-peer, in-memory key/value store
where every entry has a TTL and disappears everywhere when it runs out.

Commands:
  start    run a node and its HTTP API          repram start [--bootstrap ADDR]
  put      store a value                        repram put KEY VALUE --ttl 60
  get      print a value (raw bytes)            repram get KEY
  delete   delete a key on every node           repram delete KEY
  keys     list live keys                       repram keys [--prefix P]
  status   health table of one or more nodes    repram status --url URL,URL [--watch]
  watch    live tail of a node's changes        repram watch [--prefix P]

Run "repram <command> --help" for the options of a command.

Options:
  -h, --help     show this help
  -V, --version  print the version

Environment:
  REPRAM_URL     node HTTP API of the client commands [default: http://127.0.0.1:8080]
  REPRAM_*       every "start" option, e.g. REPRAM_MDNS=0, REPRAM_BOOTSTRAP_PEERS, PORT
  DEBUG=repram*  the node's debug log (stderr)

Exit codes:
  0  success
  1  the operation failed: key not found, node unreachable, server error
  2  usage error: unknown command or option, bad value (the message names it)`

export function version (): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    return String(pkg.version)
  } catch {
    return 'unknown'
  }
}

type Command = (argv: string[], env: Env, defaults?: StartDefaults) => Promise<number>

const COMMANDS: Record<string, () => Promise<Command>> = {
  start: async () => (await import('./commands/start.ts')).runStart,
  put: async () => (await import('./commands/client.ts')).runPut,
  get: async () => (await import('./commands/client.ts')).runGet,
  delete: async () => (await import('./commands/client.ts')).runDelete,
  keys: async () => (await import('./commands/client.ts')).runKeys,
  status: async () => (await import('./commands/status.ts')).runStatus,
  watch: async () => (await import('./commands/watch.ts')).runWatch
}

/** The commands that stop on SIGINT/SIGTERM (see signals.ts); the others end with the signal's default effect. */
const LONG_RUNNING = new Set(['start', 'watch', 'status'])

const ALIASES: Record<string, string> = { del: 'delete', rm: 'delete', ls: 'keys', set: 'put' }

export interface MainOptions {
  /** Defaults of `start` that differ from the CLI's (used by the example node). */
  startDefaults?: StartDefaults
}

/** Runs the command line `argv` (without `node` and the script) and resolves with the exit code. */
export async function main (argv: string[], env: Env = process.env, opts: MainOptions = {}): Promise<number> {
  const [first, ...rest] = argv
  let command: string | undefined
  try {
    if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
      if (first === 'help' && rest[0] !== undefined) return await main([rest[0], '--help'], env, opts)
      // Without a command the help is the error message: stderr, exit 2.
      if (first === undefined) { process.stderr.write(MAIN_HELP + '\n'); return EXIT.usage }
      process.stdout.write(MAIN_HELP + '\n')
      return EXIT.ok
    }
    if (first === '-V' || first === '--version' || first === 'version') {
      process.stdout.write(`repram ${version()}\n`)
      return EXIT.ok
    }
    command = ALIASES[first] ?? first
    const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined
    if (load === undefined) {
      command = undefined
      const hint = first.startsWith('-') ? 'give a command first' : `unknown command ${JSON.stringify(first)}`
      throw new UsageError(`${hint}; commands: ${Object.keys(COMMANDS).join(', ')}`)
    }
    // A long-running command listens for Ctrl-C and SIGTERM once loaded; one before that is kept for it.
    if (LONG_RUNNING.has(command)) holdInterrupts()
    const run = await load()
    return await run(rest, env, opts.startDefaults)
  } catch (err) {
    return report(err, command, env)
  } finally {
    releaseInterrupts()
  }
}

/** Prints `err` as one line (a stack only with REPRAM_DEBUG=1) and picks the exit code. */
function report (err: unknown, command: string | undefined, env: Env): number {
  const e = err as { name?: string, message?: string, stack?: string }
  const prefix = command === undefined ? 'repram' : `repram ${command}`
  if (err instanceof UsageError) {
    const helpFor = err.command ?? command
    process.stderr.write(`${prefix}: ${err.message}\nRun "repram ${helpFor === undefined ? '' : helpFor + ' '}--help" for usage.\n`)
    return EXIT.usage
  }
  if (err instanceof CommandError) {
    process.stderr.write(`${prefix}: ${err.message}\n`)
    return EXIT.failed
  }
  // Errors of the core keep their name: a bad option is a usage error, the rest an operation failure.
  const message = String(e?.message ?? err)
  if (e?.name === 'InvalidConfigError') {
    process.stderr.write(`${prefix}: ${message}\n`)
    return EXIT.usage
  }
  process.stderr.write(`${prefix}: ${e?.name !== undefined && e.name !== 'Error' ? e.name + ': ' : ''}${message}\n`)
  if (env.REPRAM_DEBUG === '1' && e?.stack !== undefined) process.stderr.write(e.stack + '\n')
  else process.stderr.write('(set REPRAM_DEBUG=1 for the stack trace)\n')
  return EXIT.failed
}
