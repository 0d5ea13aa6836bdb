#!/usr/bin/env node
/**
 * The `repram` executable. All the work is in `main.ts`; this file only
 * connects it to the process: arguments, environment, exit code.
 */
import { main } from './main.ts'

// `repram keys | head` closes stdout early: that ends the command, it is not a failure.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

const code = await main(process.argv.slice(2), process.env)
process.exitCode = code
// A closed libp2p node or HTTP client may keep a socket open for a moment; do not hang on it.
setTimeout(() => { process.exit(code) }, 2000).unref()
