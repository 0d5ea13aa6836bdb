/**
 * The LAN test, driven through the `repram` CLI: `repram start` processes
 * in network namespaces of a throwaway LAN, mDNS only (no bootstrap list),
 * find each other and replicate; `repram put/get/keys/status` run inside
 * the namespaces against the nodes' HTTP APIs; a fourth host that joins
 * later catches up. mDNS is on only inside the namespaces.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createLan, netnsSupport } from '../helpers/netns.ts'
import { waitFor } from '../helpers/wait.ts'
import type { ChildProcess } from 'node:child_process'
import type { Lan, LanHost } from '../helpers/netns.ts'

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const PORT = 8080
const DEADLINE_MS = 60_000

interface CliNode { host: LanHost, child: ChildProcess, events: Array<Record<string, any>>, url: string, peerId: string }

async function startCli (host: LanHost): Promise<CliNode> {
  const child = host.spawn(process.execPath, [CLI, 'start', '--json', '--network', 'lan-cli', '--mdns', '--mdns-interval', '0.5s',
    '--listen', '/ip4/0.0.0.0/tcp/0', '--http-host', '0.0.0.0', '--http-port', String(PORT)], {
    cwd: ROOT,
    env: { ...process.env, REPRAM_MDNS: '1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const events: Array<Record<string, any>> = []
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  createInterface({ input: child.stdout! }).on('line', line => { try { events.push(JSON.parse(line)) } catch {} })
  const started = await waitFor(() => events.find(e => e.event === 'started'), { timeout: DEADLINE_MS, message: `repram start in ${host.name} (stderr: ${stderr.slice(-500)})` })
  return { host, child, events, url: `http://${host.ip}:${PORT}`, peerId: started.peerId }
}

/** Runs a `repram` client command inside `host`. */
async function cli (host: LanHost, args: string[]): Promise<{ stdout: string, stderr: string, code: number }> {
  return await host.exec(process.execPath, [CLI, ...args], { timeout: 30_000 })
}

async function stop (node: CliNode): Promise<number | null> {
  if (node.child.exitCode !== null) return node.child.exitCode
  const exited = new Promise<number | null>(resolve => node.child.once('close', code => { resolve(code) }))
  node.child.kill('SIGTERM')
  return await exited
}

const support = netnsSupport()
if (!support.ok) {
  console.log(`skipping the CLI LAN test: ${support.reason}`)
  test.skip('repram start nodes on a LAN find each other through mDNS and replicate')
} else {
  test('repram start nodes on a LAN find each other through mDNS and replicate; a late host catches up', async () => {
    let lan: Lan | undefined
    const nodes: CliNode[] = []
    try {
      lan = await createLan({ hosts: 3, prefix: 'rcli' })
      for (const host of lan.hosts) nodes.push(await startCli(host))

      // Every node logs the other two joining: found by mDNS, no peer list given.
      for (const node of nodes) {
        const others = nodes.filter(n => n !== node).map(n => n.peerId).sort()
        await waitFor(() => others.every(id => node.events.some(e => e.event === 'peer:join' && e.peerId === id)), { timeout: DEADLINE_MS, message: `${node.host.name} to see both peers` })
      }

      const put = await cli(lan.hosts[0], ['put', 'lan/greeting', 'hello over the LAN', '--ttl', '600', '--url', nodes[0].url])
      assert.is(put.code, 0, put.stderr)
      for (const node of nodes.slice(1)) {
        await waitFor(async () => (await cli(node.host, ['get', 'lan/greeting', '--url', node.url])).stdout === 'hello over the LAN', { timeout: DEADLINE_MS, message: `the value on ${node.host.name}` })
      }
      const keys = await cli(lan.hosts[2], ['keys', '--prefix', 'lan/', '--url', nodes[2].url])
      assert.equal(keys.stdout.trim().split('\n'), ['lan/greeting'])

      const status = await cli(lan.hosts[1], ['status', '--json', ...nodes.flatMap(n => ['--url', n.url])])
      assert.is(status.code, 0, status.stderr)
      const rows = JSON.parse(status.stdout)
      assert.is(rows.length, 3)
      for (const row of rows) assert.ok(JSON.stringify(row).includes('"peers":2'), `each node reports 2 peers: ${JSON.stringify(row)}`)

      // A fourth host joins later and catches up through sync.
      const late = await lan.addHost()
      const lateNode = await startCli(late)
      nodes.push(lateNode)
      await waitFor(async () => (await cli(late, ['get', 'lan/greeting', '--url', lateNode.url])).stdout === 'hello over the LAN', { timeout: DEADLINE_MS, message: 'the late host to catch up' })

      for (const node of nodes) assert.is(await stop(node), 0, `clean exit of ${node.host.name}`)
    } finally {
      await Promise.all(nodes.map(async n => await stop(n)))
      await lan?.destroy()
    }
  })
}

test.run()
