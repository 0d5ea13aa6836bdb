/**
 * fade: a message board whose posts vanish when their time runs out.
 *
 * Each fade server is a REPRAM node: start three on a LAN and they find each
 * other and share one board. One node:http server answers the web client,
 * the fade endpoints and the REPRAM HTTP API (`/v1/*`).
 *
 *   node examples/fade/server.ts --help
 */
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import { RepramNode } from '../../src/index.ts'
import { createHttpHandler } from '../../src/http/index.ts'
import { watchScriptParent } from '../../src/cli/script-parent.ts'
import { createFadeApp, guardPostKeys } from './app.ts'
import { FadeUsageError, parseFadeOptions, USAGE } from './options.ts'
import type { FadeOptions } from './options.ts'

const publicDir = fileURLToPath(new URL('./public/', import.meta.url))

function fail (message: string): never {
  process.stderr.write(`fade: ${message}\n`)
  process.exit(2)
}

let opts: FadeOptions
try {
  opts = parseFadeOptions(process.argv.slice(2), process.env)
} catch (err) {
  if (err instanceof FadeUsageError) fail(`${err.message}\n\n${USAGE}`)
  throw err
}
if (opts.help) {
  process.stdout.write(USAGE)
  process.exit(0)
}

let node: RepramNode
try {
  node = new RepramNode({
    network: opts.network,
    listen: opts.listen,
    bootstrap: opts.bootstrap,
    mdns: opts.mdns,
    minTtl: opts.minTtlMs,
    maxTtl: opts.maxTtlMs,
    defaultTtl: Math.min(Math.max(3_600_000, opts.minTtlMs), opts.maxTtlMs),
    // Posts are small; a board of 64 MiB holds hundreds of thousands.
    maxValueBytes: 16 * 1024,
    maxBytes: 64 * 1024 * 1024
  })
} catch (err) {
  // InvalidConfigError names the option, e.g. a bootstrap address without /p2p/<id>.
  fail((err as Error).message)
}

try {
  await node.start()
} catch (err) {
  process.stderr.write(`fade: the node could not start: ${(err as Error).message}\n`)
  process.exit(1)
}

// Aborted at shutdown: ends the open /v1/watch streams.
const shutdownController = new AbortController()
const app = createFadeApp({
  node,
  api: createHttpHandler(guardPostKeys(node), {
    // A post is on the board once this node has it; gossip carries it on.
    writeQuorum: 0,
    // A page's first load reads every post with one GET each.
    rateLimit: { requestsPerSecond: 100, burst: 500 },
    // The page is served from this origin; other sites get no access.
    cors: false,
    signal: shutdownController.signal
  }),
  publicDir,
  postsPerMinute: opts.postsPerMinute
})
const server = createServer(app.handle)

await new Promise<void>((resolve, reject) => {
  server.once('error', reject)
  server.listen(opts.port, opts.host, () => {
    server.off('error', reject)
    resolve()
  })
}).catch(async (err: Error) => {
  await node.stop()
  fail(`cannot listen on ${opts.host}:${opts.port}: ${err.message}`)
})

const address = server.address()
const port = typeof address === 'object' && address !== null ? address.port : opts.port
const urlHost = opts.host === '0.0.0.0' || opts.host === '::' ? 'localhost' : opts.host.includes(':') ? `[${opts.host}]` : opts.host
const url = `http://${urlHost}:${port}/`

if (opts.json) {
  process.stdout.write(JSON.stringify({ url, peerId: node.peerId, multiaddrs: node.multiaddrs }) + '\n')
} else {
  process.stdout.write([
    `fade board on network "${opts.network}": ${url}`,
    `node ${node.peerId}`,
    ...node.multiaddrs.map(a => `  listening ${a}`),
    `mDNS ${opts.mdns ? 'on' : 'off'}; posts live ${opts.minTtlMs / 1000} s to ${opts.maxTtlMs / 1000} s`,
    ''
  ].join('\n'))
}

let stopping = false
async function shutdown (signal: string): Promise<void> {
  if (stopping) {
    // A second signal means "now".
    process.exit(130)
  }
  stopping = true
  if (!opts.json) process.stdout.write(`\n${signal}: stopping\n`)
  app.close()
  shutdownController.abort()
  server.close()
  server.closeAllConnections()
  await node.stop()
  process.exit(0)
}
process.on('SIGINT', () => { void shutdown('SIGINT') })
process.on('SIGTERM', () => { void shutdown('SIGTERM') })
// Under `npm run fade`, stopping npm leaves the shell it started gone and this process on its own: stop too.
watchScriptParent(() => { void shutdown('npm script ended') })
