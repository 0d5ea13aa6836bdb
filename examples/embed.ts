/**
 * Embedding REPRAM in an app: two nodes in one process, joined by a
 * bootstrap address, sharing a value that expires on both.
 *
 *   node examples/embed.ts
 */
import { RepramNode } from '../src/index.ts'

// Loopback only, no mDNS: a self-contained demo that stays off the LAN.
const local = { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false }
// Give up rather than hang if something is wrong.
const deadline = AbortSignal.timeout(20_000)
const alice = new RepramNode(local)
let bob: RepramNode | undefined

try {
  await alice.start()
  // Bob dials Alice's address, and keeps retrying until it gets through.
  bob = new RepramNode({ ...local, bootstrap: [alice.multiaddrs[0]] })
  const joined = new Promise((resolve, reject) => {
    alice.addEventListener('peer:join', resolve, { once: true })
    deadline.addEventListener('abort', () => { reject(new Error('bob did not join in time')) }, { once: true })
  })
  await bob.start()
  await joined
  console.log(`bob joined alice: alice has ${alice.peers.length} peer`)

  // Bob watches keys under "greeting/" as they arrive from the network.
  const changes = bob.watch({ prefix: 'greeting/', signal: deadline })[Symbol.asyncIterator]()
  const firstChange = changes.next()

  // Resolves once stored locally and sent; add { quorum: 1 } to wait until another node confirms it.
  const receipt = await alice.put('greeting/en', 'hello from alice', { ttl: 60_000 })
  console.log(`alice stored greeting/en, version ${receipt.version}`)

  const { value: change } = await firstChange
  console.log(`bob saw: ${change?.type} ${change?.key}`)
  const entry = await bob.get('greeting/en')
  if (entry === undefined) throw new Error('bob has no greeting/en')
  const ttlSeconds = Math.round((entry.expiresAt - Date.now()) / 1000)
  console.log(`bob reads: ${new TextDecoder().decode(entry.value)} (expires in ${ttlSeconds} s, on both nodes)`)
  await changes.return?.(undefined)
} finally {
  await bob?.stop()
  await alice.stop()
}
