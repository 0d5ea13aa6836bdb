/**
 * loadOrCreateIdentity: the key file appears whole or not at all, so
 * processes starting at once with the same identityFile agree on one key.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { loadOrCreateIdentity } from '../../src/identity.ts'
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
