/**
 * Three fade servers on a LAN find each other through mDNS alone: no
 * bootstrap list. Each runs in its own network namespace of a throwaway LAN
 * (test/helpers/netns.ts), the only place mDNS is ever switched on; every
 * check is made over HTTP from inside the namespaces.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createLan, netnsSupport } from '../helpers/netns.ts'
import type { Lan, LanHost } from '../helpers/netns.ts'
import { startFade } from './fade-process.ts'
import type { FadeProcess } from './fade-process.ts'

const PORT = 8080
/** Discovery, connection and replication on a quiet LAN take a few seconds; a loaded machine needs more. */
const DEADLINE_MS = 60_000

/**
 * Runs a script in `host` that polls `url` until `condition` (a JS
 * expression over the response JSON `j`) holds, and returns that JSON.
 */
async function pollInHost (host: LanHost, url: string, condition: string, timeout = DEADLINE_MS): Promise<any> {
  const script = `
    const deadline = Date.now() + ${timeout}
    let last = 'no answer'
    for (;;) {
      try {
        const res = await fetch(${JSON.stringify(url)})
        const j = await res.json()
        last = JSON.stringify(j)
        if (res.ok && (${condition})) { console.log(JSON.stringify(j)); process.exit(0) }
      } catch (err) { last = String(err) }
      if (Date.now() > deadline) { console.error('timed out; last answer: ' + last); process.exit(1) }
      await new Promise(resolve => setTimeout(resolve, 250))
    }`
  const { stdout, stderr, code } = await host.exec(process.execPath, ['--input-type=module', '-e', script], { timeout: timeout + 15_000 })
  if (code !== 0) throw new Error(`in ${host.name}: ${url} never satisfied ${condition}: ${stderr.trim()}`)
  return JSON.parse(stdout.trim().split('\n').at(-1)!)
}

/** POSTs `body` as JSON from inside `host`; returns `{ status, body }`. */
async function postInHost (host: LanHost, url: string, body: unknown): Promise<{ status: number, body: any }> {
  const script = `
    const res = await fetch(${JSON.stringify(url)}, { method: 'POST', headers: { 'content-type': 'application/json' }, body: ${JSON.stringify(JSON.stringify(body))} })
    console.log(JSON.stringify({ status: res.status, body: await res.json() }))`
  const { stdout, stderr, code } = await host.exec(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 })
  if (code !== 0) throw new Error(`POST in ${host.name} failed: ${stderr.trim()}`)
  return JSON.parse(stdout.trim())
}

const support = netnsSupport()
if (!support.ok) {
  console.log(`skipping the fade mDNS test: ${support.reason}`)
  test.skip('fade servers find each other through mDNS on a LAN')
} else {
  test('fade servers on a LAN find each other through mDNS alone and share one board', async () => {
    let lan: Lan | undefined
    const servers: FadeProcess[] = []
    try {
      lan = await createLan({ hosts: 3, prefix: 'fade' })
      for (const host of lan.hosts) {
        servers.push(await startFade(['--host', '0.0.0.0', '--port', String(PORT), '--min-ttl', '1'], {
          spawn: (command, args, opts) => host.spawn(command, args, opts),
          env: { FADE_MDNS: '1' },
          allowMdns: true,
          timeout: DEADLINE_MS
        }))
      }
      const urls = lan.hosts.map(host => `http://${host.ip}:${PORT}`)

      // Each node sees the other two, at their LAN addresses.
      for (const [i, host] of lan.hosts.entries()) {
        const topology = await pollInHost(host, `${urls[i]}/v1/topology`, 'j.peers.length === 2')
        assert.is(topology.peer_id, servers[i].peerId)
        const others = lan.hosts.filter((_, j) => j !== i)
        assert.equal(
          topology.peers.map((p: any) => p.peer_id).sort(),
          servers.filter((_, j) => j !== i).map(s => s.peerId).sort()
        )
        for (const peer of topology.peers) {
          const ips = peer.addresses.join(' ')
          assert.ok(others.some(h => ips.includes(`/ip4/${h.ip}/`)), `peer reached over the LAN: ${ips}`)
        }
      }

      // A post made on one node is on the others' boards.
      const posted = await postInHost(lan.hosts[0], `${urls[0]}/fade/posts`, { text: 'hello from the first floor', callsign: 'kestrel', ttl: 600 })
      assert.is(posted.status, 201, JSON.stringify(posted.body))
      const key: string = posted.body.key
      for (const [i, host] of lan.hosts.entries()) {
        const keys = await pollInHost(host, `${urls[i]}/v1/keys?prefix=fade/`, `j.keys.includes(${JSON.stringify(key)})`)
        assert.ok(keys.keys.includes(key))
        const value = await pollInHost(host, `${urls[i]}/v1/data/${key}`, 'typeof j.text === "string"')
        assert.equal(value, { text: 'hello from the first floor', callsign: 'kestrel' })
      }

      // And from the third node back to the first.
      const reply = await postInHost(lan.hosts[2], `${urls[2]}/fade/posts`, { text: 'hello back', ttl: 600 })
      assert.is(reply.status, 201)
      await pollInHost(lan.hosts[0], `${urls[0]}/v1/keys?prefix=fade/`, `j.keys.includes(${JSON.stringify(reply.body.key)})`)

      for (const server of servers) assert.is(await server.stop(), 0, `clean exit; output:\n${server.output()}`)
    } finally {
      await Promise.all(servers.map(async s => await s.stop(2000)))
      await lan?.destroy()
    }
  })
}

test.run()
