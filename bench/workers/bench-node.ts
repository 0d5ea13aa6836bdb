/**
 * One benchmark host process, driven over IPC by
 * bench/suites/replication-processes.ts (see `Worker` in lib/child.ts).
 * It runs two nodes side by side: a RepramNode (`repram`) and a bare
 * gossipsub node built the same way (`raw`, the baseline), so both kinds
 * are measured in the same processes; only one kind is busy at a time.
 * Loopback only, mDNS off. Times it reports are `hrNow()` readings of this
 * process; the parent converts them with a measured offset.
 *
 * Commands (each names its `kind`, except info, clock and stop):
 *   info -> { repram: multiaddrs, raw: multiaddrs }; clock -> hrNow();
 *   dial {addr}; waitPeers {count, timeoutMs};
 *   put {seq} (one latency sample: a put of `lat/<seq>`, or a raw publish) -> send time;
 *   count (REPRAM: live entries; raw: messages received since resetCount); resetCount;
 *   expect {count, timeoutMs} -> when `count` was reached; burst {count, run} -> { t0, t1 }; stop.
 * Events: `seen` {kind, seq, at} for every latency sample received from a peer.
 */
import { serveCommands } from '../lib/child.ts'
import { dialRaw, RAW_TOPIC, readSeq, startRawNode, startRepramNode } from '../lib/cluster.ts'
import { protocolIds } from '../../src/network.ts'
import type { RepramServices } from '../../src/network.ts'
import type { Libp2p } from '@libp2p/interface'
import { VALUE_BYTES } from '../lib/replication.ts'
import { hrNow, makeValue, until, yieldToLoop } from '../lib/stats.ts'

const CHUNK = 1000

type Kind = 'repram' | 'raw'

interface Ops {
  multiaddrs: string[]
  dial: (addr: string) => Promise<void>
  peers: () => number
  send: (seq: number) => Promise<void>
  count: () => number
  resetCount: () => void
  burst: (count: number, run: number) => Promise<void>
  diag: () => { subscribers: number, outboundStreams: number }
  stop: () => Promise<void>
}

const commands = serveCommands({
  info: async () => {
    const { repram, raw } = await nodes
    return { repram: repram.multiaddrs, raw: raw.multiaddrs }
  },
  clock: () => hrNow(),
  dial: async ({ kind, addr }: { kind: Kind, addr: string }) => { await (await nodes)[kind].dial(addr) },
  waitPeers: async ({ kind, count, timeoutMs }: { kind: Kind, count: number, timeoutMs: number }) => {
    const ops = (await nodes)[kind]
    await until(() => ops.peers() >= count, `${count} ${kind} peers`, timeoutMs, 5)
  },
  put: async ({ kind, seq }: { kind: Kind, seq: number }) => {
    const ops = (await nodes)[kind]
    const at = hrNow()
    await ops.send(seq)
    return at
  },
  count: async ({ kind }: { kind: Kind }) => (await nodes)[kind].count(),
  resetCount: async ({ kind }: { kind: Kind }) => { (await nodes)[kind].resetCount() },
  expect: async ({ kind, count, timeoutMs }: { kind: Kind, count: number, timeoutMs: number }) => {
    const ops = (await nodes)[kind]
    await until(() => ops.count() >= count, `${count} ${kind} entries`, timeoutMs)
    return hrNow()
  },
  burst: async ({ kind, count, run }: { kind: Kind, count: number, run: number }) => {
    const ops = (await nodes)[kind]
    const t0 = hrNow()
    await ops.burst(count, run)
    return { t0, t1: hrNow() }
  },
  /** Gossipsub's view: subscribers, and peers it holds an outbound stream to (it only sends on those). */
  diag: async ({ kind }: { kind: Kind }) => (await nodes)[kind].diag(),
  stop: async () => {
    const { repram, raw } = await nodes
    await Promise.allSettled([repram.stop(), raw.stop()])
  }
})

const nodes: Promise<Record<Kind, Ops>> = Promise.all([startRepram(), startRaw()]).then(([repram, raw]) => ({ repram, raw }))
nodes.catch((err: Error) => {
  process.stderr.write(`bench-node failed to start: ${err.message}\n`)
  process.exit(1)
})

async function startRepram (): Promise<Ops> {
  const n = await startRepramNode()
  n.addEventListener('entry:set', (evt) => {
    const { key, local } = evt.detail
    if (!local && key.startsWith('lat/')) commands.emit('seen', { kind: 'repram', seq: Number(key.slice(4)), at: hrNow() })
  })
  return {
    multiaddrs: n.multiaddrs,
    dial: async (addr) => { if (!await n.dial(addr)) throw new Error(`could not dial ${addr}`) },
    peers: () => n.peers.length,
    send: async (seq) => { await n.put(`lat/${seq}`, makeValue(VALUE_BYTES, seq), { ttl: 60_000 }) },
    count: () => n.stats().entries,
    resetCount: () => {},
    burst: async (count, run) => {
      const value = makeValue(VALUE_BYTES)
      for (let i = 0; i < count; i++) {
        await n.put(`tp/${run}/${i}`, value, { ttl: 600_000 })
        if ((i + 1) % CHUNK === 0) await yieldToLoop()
      }
    },
    diag: () => gossipDiag((n as unknown as { running: { libp2p: Libp2p<RepramServices> } }).running.libp2p, protocolIds(n.config.network).topic),
    stop: async () => { await n.stop() }
  }
}

async function startRaw (): Promise<Ops> {
  const n = await startRawNode()
  let received = 0
  n.onMessage = (data) => {
    received++
    const seq = readSeq(data)
    if (seq >= 0) commands.emit('seen', { kind: 'raw', seq, at: hrNow() })
  }
  // negative sequence numbers: not latency samples; every payload differs (a message id is the hash of its bytes)
  let burstSeq = -2
  return {
    multiaddrs: n.multiaddrs,
    dial: async (addr) => { await dialRaw(n, addr) },
    peers: () => n.subscribers(),
    send: async (seq) => { await n.publish(makeValue(VALUE_BYTES, seq)) },
    count: () => received,
    resetCount: () => { received = 0 },
    burst: async (count) => {
      for (let i = 0; i < count; i += CHUNK) {
        const sends: Array<Promise<void>> = []
        for (let k = i; k < Math.min(count, i + CHUNK); k++) sends.push(n.publish(makeValue(VALUE_BYTES, burstSeq--)))
        await Promise.all(sends)
        await yieldToLoop()
      }
    },
    diag: () => gossipDiag(n.libp2p, RAW_TOPIC),
    stop: async () => { await n.stop() }
  }
}

function gossipDiag (libp2p: Libp2p<RepramServices>, topic: string): { subscribers: number, outboundStreams: number } {
  const pubsub = libp2p.services.pubsub as unknown as { streamsOutbound: Map<string, unknown>, getSubscribers: (t: string) => unknown[] }
  return { subscribers: pubsub.getSubscribers(topic).length, outboundStreams: pubsub.streamsOutbound.size }
}
