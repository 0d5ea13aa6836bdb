/**
 * claimIdentity: one running node per identity file, in one process (any
 * thread) or across processes on this machine, held by a local socket that
 * the system takes back when its process ends.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { claimIdentity } from '../../src/identity-claim.ts'
import { InvalidConfigError } from '../../src/errors.ts'

const FIXTURE = fileURLToPath(new URL('../fixtures/claim-identity.ts', import.meta.url))

async function inTempDir (fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'repram-claim-'))
  try { await fn(dir) } finally { await rm(dir, { recursive: true, force: true }) }
}

async function refusal (path: string): Promise<Error | undefined> {
  return await claimIdentity(path).then(async release => { await release(); return undefined }, (e: Error) => e)
}

test('one claim at a time in a process, by any path to the file; given back, it is free again; nothing is written beside the key', async () => {
  await inTempDir(async dir => {
    await mkdir(join(dir, 'real'))
    const path = join(dir, 'real', 'node.key')
    await writeFile(path, 'a key')
    await symlink(join(dir, 'real'), join(dir, 'alias'))
    await symlink(path, join(dir, 'link.key'))
    const release = await claimIdentity(path)
    for (const other of [path, join(dir, 'alias', 'node.key'), join(dir, 'link.key')]) {
      const err = await refusal(other)
      assert.instance(err, InvalidConfigError, other)
      assert.match(err!.message, /identityFile: .* is in use by another node of this process/)
    }
    await release()
    await release() // idempotent
    assert.is(await refusal(join(dir, 'link.key')), undefined)
    assert.equal((await readdir(join(dir, 'real'))).sort(), ['node.key'])
  })
})

/** Starts `n` processes claiming `path` at once; resolves to what each said, once all have said it, then lets them go. */
async function claimAtOnce (path: string, n: number): Promise<Array<{ pid: number, said: string }>> {
  const children = Array.from({ length: n }, () => spawn(process.execPath, [FIXTURE, path], { stdio: ['pipe', 'pipe', 'inherit'] }))
  try {
    return await Promise.all(children.map(async child => await new Promise<{ pid: number, said: string }>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('\n')) resolve({ pid: child.pid!, said: out.trim() })
      })
      child.on('exit', code => { reject(new Error(`a claiming process exited (${String(code)}) before saying anything`)) })
    })))
  } finally {
    for (const child of children) child.stdin.end()
    await Promise.all(children.map(async child => { if (child.exitCode === null) await new Promise(resolve => child.on('exit', resolve)) }))
  }
}

test('of processes claiming one identity at once, one wins; the others are told its pid', async () => {
  await inTempDir(async dir => {
    const path = join(dir, 'node.key')
    for (let trial = 0; trial < 4; trial++) {
      const results = await claimAtOnce(path, 8)
      const winners = results.filter(r => r.said === 'claimed')
      assert.is(winners.length, 1, `trial ${trial}: ${results.map(r => r.said).join(' | ')}`)
      for (const r of results.filter(r => r.said !== 'claimed')) assert.match(r.said, `is in use by process ${winners[0].pid}:`)
    }
  })
})

test('a process killed while holding the claim leaves nothing behind: the next claim succeeds at once', async () => {
  await inTempDir(async dir => {
    const path = join(dir, 'node.key')
    const child = spawn(process.execPath, [FIXTURE, path], { stdio: ['pipe', 'pipe', 'inherit'] })
    await new Promise<void>(resolve => { child.stdout.on('data', () => { resolve() }) })
    assert.instance(await refusal(path), InvalidConfigError, 'held while it runs')
    child.kill('SIGKILL')
    await new Promise(resolve => child.on('exit', resolve))
    assert.is(await refusal(path), undefined)
    assert.equal(await readdir(dir), [])
  })
})

test('two worker threads of one process: one claim', async () => {
  await inTempDir(async dir => {
    const path = join(dir, 'node.key')
    const url = new URL('../../src/identity-claim.ts', import.meta.url).href
    const code = `const { parentPort, workerData } = require('node:worker_threads')
      import(workerData.url).then(m => m.claimIdentity(workerData.path)).then(
        () => parentPort.postMessage('claimed'), e => parentPort.postMessage('refused ' + e.message))
      parentPort.once('message', () => process.exit(0))`
    const workers = [0, 1].map(() => new Worker(code, { eval: true, workerData: { url, path } }))
    try {
      const said = await Promise.all(workers.map(async w => await new Promise<string>(resolve => w.once('message', resolve))))
      assert.is(said.filter(s => s === 'claimed').length, 1, said.join(' | '))
    } finally {
      for (const w of workers) w.postMessage('exit')
      await Promise.all(workers.map(async w => await new Promise(resolve => w.once('exit', resolve))))
    }
  })
})

test.run()
