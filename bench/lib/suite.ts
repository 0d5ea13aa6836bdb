/**
 * What a suite file is: a script that measures some figures and hands them
 * to `bench/run.ts`, which runs each suite in a fresh process (no shared
 * heap, JIT state or leftover sockets between suites). Run directly
 * (`node bench/suites/store.ts --quick`) a suite prints its table instead.
 */
import { childMain } from './child.ts'
import { formatNotes, formatTable } from './figures.ts'
import type { Figure } from './figures.ts'

export interface SuiteOptions {
  /** Smoke mode: small counts, short durations. */
  quick: boolean
}

export function parseSuiteOptions (args: string[]): SuiteOptions {
  return { quick: args.includes('--quick') }
}

export function suiteMain (run: (opts: SuiteOptions) => Promise<Figure[]>): void {
  if (process.send !== undefined) {
    childMain(async (args) => await run(parseSuiteOptions(args)))
    return
  }
  run(parseSuiteOptions(process.argv.slice(2))).then(
    figures => {
      process.stdout.write(`${formatTable(figures)}\n\n${formatNotes(figures)}\n`)
      process.exit(0)
    },
    (err: Error) => {
      process.stderr.write(`${err.stack ?? err.message}\n`)
      process.exit(1)
    }
  )
}

/** Progress line on stderr (stdout is kept for results). */
export function progress (suite: string, message: string): void {
  process.stderr.write(`[${suite}] ${message}\n`)
}
