/**
 * A stopped node leaves nothing behind that keeps its process alive: a host
 * app with nothing else to do exits as soon as its nodes have stopped. Run in
 * a child process of its own (test/fixtures/stop-exit.ts), since this test
 * runner's own handles would hide a leftover timer.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const test = suite('stop: nothing left running')
const FIXTURE = fileURLToPath(new URL('../fixtures/stop-exit.ts', import.meta.url))

async function run (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [FIXTURE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const kill = setTimeout(() => { child.kill('SIGKILL') }, 30_000)
  const code = await new Promise<number | null>(resolve => { child.on('exit', resolve) })
  clearTimeout(kill)
  return { code, stdout, stderr }
}

for (const args of [[], ['--dht']]) {
  test(`two nodes that replicated a write${args.length > 0 ? ' (with the DHT)' : ''} stop, and their process exits on its own`, async () => {
    const { code, stdout, stderr } = await run(args)
    assert.ok(stdout.includes('"event":"stopped"'), `the nodes did not stop: ${stdout}${stderr}`)
    assert.not.ok(stdout.includes('"event":"alive"'), `still running 800 ms after stop: ${stdout}`)
    assert.is(code, 0, stderr)
  })
}

test('a node whose start failed leaves nothing running either', async () => {
  const { code, stdout, stderr } = await run(['--failed-start'])
  assert.ok(stdout.includes('"event":"stopped"'), `the start did not fail as it should: ${stdout}${stderr}`)
  assert.not.ok(stdout.includes('"event":"alive"'), `still running 800 ms after the failed start: ${stdout}`)
  assert.is(code, 0, stderr)
})

test.run()
