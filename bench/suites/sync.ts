/**
 * Figure 7: the sync protocol, both nodes in this process.
 *
 * - Join: node A holds N live entries (100-byte values); node B starts with
 *   A as its bootstrap peer. Time from `B.start()` to B holding all N.
 *   Baseline: two bare libp2p nodes built the same way; the second starts,
 *   dials the first and reads the same number of bytes as the join moved
 *   (B's sync bytes received) over one stream, in 256 KiB length-prefixed
 *   frames. That is the cost of the transport alone; the rest is encoding,
 *   validation and applying records.
 * - In-sync round: with A and B already holding the same N entries, the
 *   bytes of one more round (`B.syncWith(A)`), from B's sync byte counters.
 *   Baseline: the bytes of the join round, i.e. what shipping the whole
 *   data set costs.
 */
import { lpStream } from '@libp2p/utils'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { resolveConfig } from '../../src/index.ts'
import { createNetwork } from '../../src/network.ts'
import { BENCH_NODE_INIT, startRepramNode, stopAll } from '../lib/cluster.ts'
import { figure } from '../lib/figures.ts'
import { makeValue, until, yieldToLoop } from '../lib/stats.ts'
import { progress, suiteMain } from '../lib/suite.ts'
import type { Figure } from '../lib/figures.ts'
import type { SuiteOptions } from '../lib/suite.ts'
import type { RepramNode } from '../../src/index.ts'

const SUITE = 'sync'
const VALUE_BYTES = 100
const FRAME_BYTES = 256 * 1024
const BLOB_PROTOCOL = '/repram-bench/blob/1.0.0'

const syncBytes = (node: RepramNode): number => node.stats().counters.syncBytesSent + node.stats().counters.syncBytesReceived

async function fill (node: RepramNode, n: number): Promise<void> {
  const value = makeValue(VALUE_BYTES)
  for (let i = 0; i < n; i++) {
    await node.put(`sync/${i}`, value, { ttl: 600_000 })
    if ((i + 1) % 1000 === 0) await yieldToLoop()
  }
}

/** Ms from starting a bare libp2p node to having read `bytes` from a peer over one stream. */
async function rawTransfer (bytes: number): Promise<number> {
  const config = resolveConfig({ ...BENCH_NODE_INIT, network: 'bench-blob' })
  const server = await createNetwork(config, await generateKeyPair('Ed25519'), {})
  let client: Awaited<ReturnType<typeof createNetwork>> | undefined
  try {
    await server.start()
    await server.handle(BLOB_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      const frame = new Uint8Array(FRAME_BYTES).fill(0x61)
      for (let sent = 0; sent < bytes; sent += FRAME_BYTES) await lp.write(frame.subarray(0, Math.min(FRAME_BYTES, bytes - sent)))
      await stream.close()
    })
    const t0 = performance.now()
    client = await createNetwork(config, await generateKeyPair('Ed25519'), {})
    await client.start()
    const stream = await client.dialProtocol(multiaddr(server.getMultiaddrs()[0].toString()), BLOB_PROTOCOL, { signal: AbortSignal.timeout(30_000) })
    const lp = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 })
    let got = 0
    while (got < bytes) got += (await lp.read({ signal: AbortSignal.timeout(30_000) })).byteLength
    const ms = performance.now() - t0
    await stream.close()
    return ms
  } finally {
    await Promise.allSettled([server.stop(), client?.stop()])
  }
}

async function run ({ quick }: SuiteOptions): Promise<Figure[]> {
  const n = quick ? 10_000 : 100_000
  let a: RepramNode | undefined
  let b: RepramNode | undefined
  try {
    progress(SUITE, `filling node A with ${n} entries`)
    a = await startRepramNode()
    await fill(a, n)

    progress(SUITE, 'node B joins')
    const t0 = performance.now()
    b = await startRepramNode({ bootstrap: [a.multiaddrs[0]] })
    const joined = b
    await until(() => joined.stats().entries >= n, `node B to hold all ${n} entries`, 120_000)
    const joinMs = performance.now() - t0
    // the join round is over once both sides counted it
    const first = a
    await until(() => first.stats().counters.syncRounds >= 1 && joined.stats().counters.syncRounds >= 1, 'the join round to end on both sides', 30_000, 5)
    const joinBytes = syncBytes(b)
    const joinReceived = b.stats().counters.syncBytesReceived

    progress(SUITE, 'one round between nodes in sync')
    // A node joining runs a second round once the peer's gossip subscription
    // is known (for writes made in between), started by the node with the
    // smaller peer id. Once both have joined, a call on each side waits for
    // any round that side has under way or queued, so that the one measured
    // runs alone (a round either side starts counts on both).
    const other = a
    await until(() => joined.peers.includes(other.peerId) && other.peers.includes(joined.peerId), 'the nodes to join', 30_000, 5)
    await a.syncWith(b.peerId)
    await b.syncWith(a.peerId)
    const before = syncBytes(b)
    const rounds = b.stats().counters.syncRounds
    if (!await b.syncWith(a.peerId) || b.stats().counters.syncRounds !== rounds + 1) throw new Error('the in-sync round did not complete alone')
    const inSyncBytes = syncBytes(b) - before
    if (b.stats().entries !== n || a.stats().entries !== n) throw new Error(`expected ${n} entries on both nodes, have ${a.stats().entries} and ${b.stats().entries}`)

    await stopAll([a, b])
    a = b = undefined
    progress(SUITE, `baseline: ${joinReceived} bytes over a bare stream`)
    const rawMs = await rawTransfer(joinReceived)

    const what = `${n.toLocaleString('en-US')} entries of ${VALUE_BYTES} B`
    return [
      figure({
        id: 'sync.join',
        suite: SUITE,
        label: `Sync: new node has all ${what}`,
        unit: 'ms',
        better: 'lower',
        value: joinMs,
        baseline: { label: 'start + dial + read the same bytes, bare stream', value: rawMs },
        target: 3000,
        notes: `from B.start() with A as bootstrap peer to B holding all entries; the round moved ${(joinReceived / 1024 / 1024).toFixed(1)} MiB to B; both nodes in one process`
      }),
      figure({
        id: 'sync.in-sync-round',
        suite: SUITE,
        label: `Sync: one round between nodes in sync, ${what}`,
        unit: 'KiB',
        better: 'lower',
        value: inSyncBytes / 1024,
        baseline: { label: 'the join round (full transfer)', value: joinBytes / 1024 },
        target: 64,
        notes: 'bytes sent + received by the initiator, from its sync counters'
      })
    ]
  } finally {
    await stopAll([a, b])
  }
}

suiteMain(run)
