/**
 * The LAN harness itself: hosts reach each other by unicast and multicast,
 * a host added later is on the same LAN, the machine's own namespace is left
 * untouched, and destroy() removes everything (processes included).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { createLan, currentTestNetns, netnsSupport, NETNS_ENV } from '../helpers/netns.ts'
import type { Lan, LanHost } from '../helpers/netns.ts'
import { waitFor } from '../helpers/wait.ts'

const node = process.execPath

function rootState (): string {
  const links = execFileSync('ip', ['-o', 'link', 'show']).toString().split('\n').map(l => l.split(':')[1]?.trim()).filter(Boolean).sort()
  const routes = execFileSync('ip', ['route', 'show', 'table', 'all']).toString()
  return JSON.stringify({ links, routes })
}

function namespaces (): string[] {
  try {
    return execFileSync('ip', ['netns', 'list']).toString().split('\n').map(l => l.split(' ')[0]).filter(Boolean)
  } catch {
    return [] // no iproute2
  }
}

/** A TCP echo round trip from `from` to `to`, with node on both ends (no ping needed). */
async function tcpRoundTrip (from: LanHost, to: LanHost, port: number): Promise<string> {
  const server = to.spawn(node, ['-e', `
    const s = require('node:net').createServer(c => c.pipe(c)).listen(${port}, '${to.ip}', () => console.log('listening'))
    setTimeout(() => process.exit(2), 10000)
  `], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    await new Promise<void>((resolve, reject) => {
      server.stdout?.once('data', () => resolve())
      server.once('exit', code => reject(new Error(`echo server exited with ${code}`)))
    })
    const { stdout, code } = await from.exec(node, ['-e', `
      const c = require('node:net').connect(${port}, '${to.ip}', () => c.end('hello from ' + process.env.${NETNS_ENV}))
      let got = ''; c.on('data', d => { got += d }); c.on('end', () => console.log(got))
      c.on('error', e => { console.error(e.message); process.exit(1) })
    `])
    assert.is(code, 0, 'client exit code')
    return stdout.trim()
  } finally {
    server.kill()
  }
}

const support = netnsSupport()
if (!support.ok) {
  console.log(`skipping LAN harness tests: ${support.reason}`)
  test.skip('LAN harness')
  test('createLan() refuses, giving the reason, where namespaces are unavailable', async () => {
    const before = namespaces()
    try {
      await createLan({ hosts: 1 })
      assert.unreachable('createLan resolved without namespace support')
    } catch (err) {
      assert.ok((err as Error).message.includes(support.reason), (err as Error).message)
    }
    assert.equal(namespaces(), before)
  })
} else {
  let lan: Lan | undefined
  let before = ''

  test.before(() => { before = rootState() })

  test.after(async () => {
    await lan?.destroy()
  })

  test('hosts get distinct addresses and short names, in their own namespaces', async () => {
    lan = await createLan({ hosts: 3 })
    assert.is(lan.hosts.length, 3)
    assert.match(lan.subnet, /^10\.\d+\.\d+\.0\/24$/)
    const ips = lan.hosts.map(h => h.ip)
    assert.is(new Set(ips).size, 3)
    for (const host of lan.hosts) {
      assert.ok(host.name.length <= 15, `${host.name} is longer than 15 characters`)
      assert.ok(namespaces().includes(host.name), `${host.name} is listed by ip netns list`)
      const { stdout } = await host.exec('ip', ['-o', '-4', 'addr', 'show', 'dev', 'eth0'])
      assert.ok(stdout.includes(`${host.ip}/24`), `eth0 of ${host.name} has ${host.ip}: ${stdout}`)
      const routes = await host.exec('ip', ['route', 'show'])
      assert.match(routes.stdout, /224\.0\.0\.0\/4 dev eth0/)
    }
  })

  test('the machine\'s own namespace gets no link and no route', () => {
    assert.is(rootState(), before)
  })

  test('hosts reach each other over TCP', async () => {
    assert.is(await tcpRoundTrip(lan!.hosts[0], lan!.hosts[1], 7001), `hello from ${lan!.hosts[0].name}`)
    assert.is(await tcpRoundTrip(lan!.hosts[2], lan!.hosts[0], 7002), `hello from ${lan!.hosts[2].name}`)
  })

  test('multicast from one host reaches all others, and a host added later', async () => {
    const late = await lan!.addHost()
    assert.is(lan!.hosts.length, 4)
    assert.is(lan!.hosts[3], late)
    const group = '239.255.42.99'
    const port = 47999
    const receivers = lan!.hosts.slice(1).map(host => {
      const child = host.spawn(node, ['-e', `
        const s = require('node:dgram').createSocket({ type: 'udp4', reuseAddr: true })
        s.on('message', (m, r) => { console.log(m.toString() + ' via ' + r.address); process.exit(0) })
        s.bind(${port}, () => { s.addMembership('${group}'); console.log('joined') })
        setTimeout(() => process.exit(3), 10000)
      `], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
      return { host, child, output: () => out }
    })
    await waitFor(() => receivers.every(r => r.output().includes('joined')), { timeout: 10_000, message: 'receivers to join the group' })
    const sender = lan!.hosts[0]
    // Several datagrams: the first may go out before a receiver's join settles.
    const sent = await sender.exec(node, ['-e', `
      const s = require('node:dgram').createSocket('udp4')
      let n = 0
      const t = setInterval(() => { s.send('ping ' + n++, ${port}, '${group}'); if (n === 10) { clearInterval(t); s.close() } }, 100)
    `])
    assert.is(sent.code, 0, sent.stderr)
    await waitFor(() => receivers.every(r => r.output().includes(`via ${sender.ip}`)), {
      timeout: 10_000,
      message: 'every host to receive the multicast datagram'
    })
  })

  test('REPRAM_TEST_NETNS is honoured only inside the namespace it names', async () => {
    assert.is(currentTestNetns(), undefined, 'this process is not in a test namespace')
    const host = lan!.hosts[1]
    const probe = `import('${new URL('../helpers/netns.ts', import.meta.url).href}').then(m => console.log(String(m.currentTestNetns())))`
    const inside = await host.exec(node, ['-e', probe])
    assert.is(inside.stdout.trim(), host.name, inside.stderr)
    // The same variable, set by hand in a process outside that namespace, is refused.
    const outside = execFileSync(node, ['-e', probe], { env: { ...process.env, [NETNS_ENV]: host.name } }).toString().trim()
    assert.is(outside, 'undefined')
  })

  test('destroy() kills spawned processes, deletes every namespace, and is idempotent', async () => {
    const names = lan!.hosts.map(h => h.name)
    const sleeper = lan!.hosts[0].spawn(node, ['-e', 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000)'])
    const exited = new Promise(resolve => sleeper.once('exit', resolve))
    await waitFor(() => namespaces().length > 0 && sleeper.pid !== undefined)
    await Promise.all([lan!.destroy(), lan!.destroy()])
    await lan!.destroy()
    await exited
    assert.ok(sleeper.exitCode !== null || sleeper.signalCode !== null, 'the process ignoring SIGTERM was killed')
    const left = namespaces()
    for (const name of names) assert.not.ok(left.includes(name), `${name} still exists`)
    assert.not.ok(left.some(n => n.startsWith(names[0].replace(/-h1$/, ''))), `switch namespace left: ${left.join(' ')}`)
    assert.is(rootState(), before)
    assert.throws(() => lan!.hosts[0].spawn('true', []), /destroyed/)
  })
}

test.run()
