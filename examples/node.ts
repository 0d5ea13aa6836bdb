/**
 * The example node (`npm start`). Run it on a few machines of one LAN and
 * they form a cluster on their own: mDNS finds the peers, every write
 * replicates to all of them, and each serves the HTTP API.
 *
 *   npm start                                   # HTTP on $PORT or 8080 (a free port if taken)
 *   REPRAM_MDNS=0 REPRAM_BOOTSTRAP_PEERS=/ip4/10.0.0.1/tcp/4001/p2p/12D3KooW... npm start
 *   npm start -- --json --verbose               # any `repram start` flag works too
 *
 * Environment variables (all of `repram start --help` apply): REPRAM_MDNS=0
 * turns mDNS off, REPRAM_BOOTSTRAP_PEERS lists peers to dial (comma-separated
 * multiaddrs ending in /p2p/<peer id>), PORT sets the HTTP port,
 * REPRAM_LISTEN the libp2p listen addresses, REPRAM_NETWORK the swarm name.
 * The HTTP API listens on 127.0.0.1 only; REPRAM_HTTP_HOST=0.0.0.0 opens it
 * to the network (it has no authentication).
 *
 * It is the CLI's `start` command with friendlier defaults: mDNS on, curl
 * hints, and a free HTTP port when the default one is busy.
 */
import { main } from '../src/cli/main.ts'

const code = await main(['start', ...process.argv.slice(2)], process.env, {
  startDefaults: { mdns: true, httpPortFallback: true, hints: true, title: 'REPRAM example node' }
})
process.exitCode = code
// libp2p may hold a socket for a moment after stop(); do not hang on it.
setTimeout(() => { process.exit(code) }, 2000).unref()
