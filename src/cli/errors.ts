/**
 * The CLI's two failure kinds, one per exit code, so every command reports
 * problems the same way: a one-line message on stderr and a documented exit
 * code instead of a stack trace.
 */

/** Exit codes of every `repram` command. */
export const EXIT = {
  /** The command did what was asked. */
  ok: 0,
  /** The operation failed: key not found, node unreachable, server error. */
  failed: 1,
  /** The command line (or an environment variable) is wrong. */
  usage: 2
} as const

/** The command line or environment is wrong; exit code 2. */
export class UsageError extends Error {
  /** The command whose help to point at, e.g. `put`. */
  readonly command?: string
  constructor (message: string, command?: string) {
    super(message)
    this.name = 'UsageError'
    this.command = command
  }
}

/** The requested operation failed; exit code 1. */
export class CommandError extends Error {
  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'CommandError'
  }
}
