#!/usr/bin/env node
/**
 * The `repram` executable. All the work is in `main.ts`; this file only
 * connects it to the process: arguments, environment, exit code.
 */
import module from 'node:module'

// Client commands are short-lived processes: reusing compiled code from
// earlier runs (in the OS temp dir) halves their start-up time.
module.enableCompileCache?.()

// `repram keys | head` closes stdout early: that ends the command, it is not a failure.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

// Imported after enabling the cache, so that it covers them.
const { main } = await import('./main.ts')
const code = await main(process.argv.slice(2), process.env)
process.exitCode = code
// A closed libp2p node or HTTP client may keep a socket open for a moment; do not hang on it.
setTimeout(() => { process.exit(code) }, 2000).unref()
