/**
 * loadOrCreateIdentity: the key file appears whole or not at all, so
 * processes starting at once with the same identityFile agree on one key.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { claimIdentity, loadOrCreateIdentity } from '../../src/identity.ts'
import { InvalidConfigError } from '../../src/errors.ts'

const require = createRequire(import.meta.url)

async function inTempDir (fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'repram-identity-'))
  try { await fn(dir) } finally { await rm(dir, { recursive: true, force: true }) }
}

test('concurrent first starts with one identityFile all get the same key, and leave nothing else behind', async () => {
  await inTempDir(async dir => {
    const path = join(dir, 'keys', 'node.key')
    const keys = await Promise.all(Array.from({ length: 12 }, async () => await loadOrCreateIdentity(path)))
    const ids = new Set(keys.map(k => k.publicKey.toString()))
    assert.is(ids.size, 1, 'one key for all')
    assert.is((await loadOrCreateIdentity(path)).publicKey.toString(), [...ids][0], 'the one in the file')
    assert.equal(await readdir(join(dir, 'keys')), ['node.key'])
    assert.is((await stat(path)).mode & 0o777, 0o600)
  })
})

test('a file that is not a key, or a path that cannot be created, is an InvalidConfigError naming identityFile', async () => {
  await inTempDir(async dir => {
    const junk = join(dir, 'junk.key')
    await writeFile(junk, 'not a key')
    const err = await loadOrCreateIdentity(junk).then(() => undefined, (e: Error) => e)
    assert.instance(err, InvalidConfigError)
    assert.match(err!.message, /identityFile.*does not hold a libp2p private key/)
    const blocked = join(junk, 'below-a-file.key') // a path under a regular file
    const err2 = await loadOrCreateIdentity(blocked).then(() => undefined, (e: Error) => e)
    assert.instance(err2, InvalidConfigError)
    assert.match(err2!.message, /identityFile/)
  })
})

test('claimIdentity: one claim at a time in a process; a lock of a running process refuses, one of an ended process is taken over', async () => {
  await inTempDir(async dir => {
    const path = join(dir, 'node.key')
    const release = await claimIdentity(path)
    assert.is((await readFile(`${path}.lock`, 'utf8')).trim(), String(process.pid))
    const again = await claimIdentity(path).then(() => undefined, (e: Error) => e)
    assert.instance(again, InvalidConfigError)
    assert.match(again!.message, /identityFile.*in use by another node of this process/)
    await release()
    assert.equal(await readdir(dir), [], 'the lock goes with the claim')
    // Another process holds it (the one that started this test is running).
    await writeFile(`${path}.lock`, `${process.ppid}\n`)
    const held = await claimIdentity(path).then(() => undefined, (e: Error) => e)
    assert.instance(held, InvalidConfigError)
    assert.match(held!.message, new RegExp(`in use by process ${process.ppid}`))
    // A process that has ended left it.
    const ended = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' })
    await writeFile(`${path}.lock`, ended.stdout)
    const taken = await claimIdentity(path)
    assert.is((await readFile(`${path}.lock`, 'utf8')).trim(), String(process.pid))
    await taken()
  })
})

/** Starts `n` processes claiming `path` at once; resolves to what each said, once all have said it, then lets them go. */
async function claimAtOnce (path: string, n: number): Promise<string[]> {
  const fixture = fileURLToPath(new URL('../fixtures/claim-identity.ts', import.meta.url))
  const children = Array.from({ length: n }, () => spawn(process.execPath, [fixture, path], { stdio: ['pipe', 'pipe', 'inherit'] }))
  try {
    return await Promise.all(children.map(async child => await new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('\n')) resolve(out.trim())
      })
      child.on('exit', code => { reject(new Error(`a claiming process exited (${String(code)}) before saying anything`)) })
    })))
  } finally {
    for (const child of children) child.stdin.end()
    await Promise.all(children.map(async child => { if (child.exitCode === null) await new Promise(resolve => child.on('exit', resolve)) }))
  }
}

test('claimIdentity: of processes claiming one identity at once, one wins, with no lock or a lock left by an ended process', async () => {
  await inTempDir(async dir => {
    const path = join(dir, 'node.key')
    const ended = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout
    for (let trial = 0; trial < 8; trial++) {
      if (trial % 2 === 1) await writeFile(`${path}.lock`, ended)
      const said = await claimAtOnce(path, 8)
      assert.is(said.filter(s => s === 'claimed').length, 1, `trial ${trial}: ${said.join(' | ')}`)
      for (const s of said.filter(s => s !== 'claimed')) assert.match(s, /^refused invalid option identityFile: .* is in use by process \d+/)
      assert.equal((await readdir(dir)).filter(f => f !== 'node.key.lock'), [], 'nothing else left behind')
    }
  })
})

test('claimIdentity: one file reached by two paths is one claim; a release leaves a lock that is no longer its own', async () => {
  await inTempDir(async dir => {
    await mkdir(join(dir, 'real'))
    await symlink(join(dir, 'real'), join(dir, 'alias'))
    await writeFile(join(dir, 'real', 'node.key'), 'a key')
    await symlink(join(dir, 'real', 'node.key'), join(dir, 'link.key'))
    const release = await claimIdentity(join(dir, 'real', 'node.key'))
    for (const other of [join(dir, 'alias', 'node.key'), join(dir, 'link.key')]) {
      const err = await claimIdentity(other).then(() => undefined, (e: Error) => e)
      assert.instance(err, InvalidConfigError, other)
    }
    // Taken over meanwhile by another process (as after this one was taken for ended): its lock stays.
    await writeFile(join(dir, 'real', 'node.key.lock'), `${process.ppid}\n`)
    await release()
    assert.is((await readFile(join(dir, 'real', 'node.key.lock'), 'utf8')).trim(), String(process.ppid))
  })
})

/**
 * `link` from node:fs/promises made to fail with `code` while `fn` runs: a file system without hard
 * links (vfat, some network shares) cannot be mounted here, so only that one call is made to fail.
 */
async function withLinkFailing (code: string, fn: () => Promise<void>): Promise<void> {
  const fsp = require('node:fs/promises') as { link: typeof import('node:fs/promises').link }
  const link = fsp.link
  fsp.link = async () => { throw Object.assign(new Error(`${code}: operation not permitted, link`), { code }) }
  syncBuiltinESMExports()
  try { await fn() } finally {
    fsp.link = link
    syncBuiltinESMExports()
  }
}

test('on a file system without hard links, the identity lock is created exclusively, and a live one refuses', async () => {
  await inTempDir(async dir => {
    const path = join(dir, 'node.key')
    await withLinkFailing('EPERM', async () => {
      const release = await claimIdentity(path)
      assert.is((await readFile(`${path}.lock`, 'utf8')).trim(), String(process.pid))
      await release()
      await writeFile(`${path}.lock`, `${process.ppid}\n`)
      const err = await claimIdentity(path).then(() => undefined, (e: Error) => e)
      assert.instance(err, InvalidConfigError)
      assert.match(err!.message, new RegExp(`in use by process ${process.ppid}`))
    })
  })
})

test('on a file system without hard links, the key file is created in place, whole, and read back on the next start', async () => {
  await inTempDir(async dir => {
    const path = join(dir, 'node.key')
    let key: Awaited<ReturnType<typeof loadOrCreateIdentity>> | undefined
    await withLinkFailing('EPERM', async () => { key = await loadOrCreateIdentity(path) })
    assert.equal(await readdir(dir), ['node.key'], 'no file written aside is left')
    assert.is((await stat(path)).mode & 0o777, 0o600)
    assert.is((await loadOrCreateIdentity(path)).publicKey.toString(), key!.publicKey.toString())
    // Any other failure of link is not taken for a missing feature.
    const other = join(dir, 'other.key')
    const err = await withLinkFailing('EIO', async () => { await loadOrCreateIdentity(other) }).then(() => undefined, (e: Error) => e)
    assert.instance(err, InvalidConfigError)
    assert.match(err!.message, /identityFile.*cannot create .*EIO/)
    assert.equal(await readdir(dir), ['node.key'])
  })
})

test.run()
