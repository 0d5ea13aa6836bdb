/**
 * Node identity and swarm keys: a persistent private key file (so the peer
 * id survives restarts) and pre-shared keys for private swarms.
 */
import { link, mkdir, readFile, realpath, rename, unlink, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { basename, dirname, join, resolve } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { generateKey } from '@libp2p/pnet'
import { InvalidConfigError } from './errors.ts'
import type { PrivateKey } from '@libp2p/interface'

/**
 * Reads the private key in `path` (libp2p protobuf encoding), or creates a
 * new Ed25519 key there (mode 0600) when the file does not exist. The file
 * appears whole or not at all (written aside, then linked into place), so
 * processes starting at once with the same path all end up with the one key
 * that got there first, and none reads a half-written file.
 */
export async function loadOrCreateIdentity (path: string): Promise<PrivateKey> {
  const existing = await readKey(path)
  if (existing !== undefined) return existing
  const key = await generateKeyPair('Ed25519')
  const aside = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  try {
    await mkdir(dirname(path), { recursive: true })
    await writeFile(aside, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
    try {
      await link(aside, path)
    } catch (err) {
      // A file system without hard links: create the file in place (not atomic, but exclusive).
      if (!NO_LINKS.has((err as NodeJS.ErrnoException).code ?? '')) throw err
      await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
    }
    return key
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const theirs = await readKey(path)
      if (theirs !== undefined) return theirs
    }
    throw new InvalidConfigError('identityFile', `cannot create ${path}: ${(err as Error).message}`)
  } finally {
    await unlink(aside).catch(() => {})
  }
}

/**
 * Identity files claimed by running nodes of this process, by real path.
 * Kept on the global object: two copies of this module in one process (two
 * versions of the package) share it.
 */
const claimed: Set<string> = ((globalThis as Record<symbol, unknown>)[Symbol.for('repram.identity.claimed')] ??= new Set<string>()) as Set<string>

/**
 * Claims the identity file at `path` for one running node, and resolves to
 * the function that gives it back (at `stop()`). Two nodes running with one
 * identity have one peer id: the network takes them for one peer (one of
 * them never joins) and their writes for one writer's. So a second node,
 * in this process or another on this machine, is refused with
 * `InvalidConfigError`.
 *
 * Across processes the claim is a file beside the key, `<path>.lock`,
 * holding the pid. It appears whole or not at all (written aside, then
 * linked into place), so a lock is never seen half-written. One left by a
 * process that has ended is taken over: moved aside under a name of this
 * claim's own first (one mover wins), then checked to be that very lock; a
 * live lock moved by mistake is put back. A claim's release deletes the
 * lock only while it still holds this process's pid. A lock holding this
 * very pid that no claim of this process made was left by an earlier
 * process under the same pid (a container's first process, restarted) and
 * is taken over too. Where no lock file can be written (a read-only
 * directory), nodes are not kept apart across processes.
 */
export async function claimIdentity (path: string): Promise<() => Promise<void>> {
  const full = join(await realpath(dirname(resolve(path))).catch(() => dirname(resolve(path))), basename(path))
  if (claimed.has(full)) {
    throw new InvalidConfigError('identityFile', `${path} is in use by another node of this process: give each node an identity file of its own`)
  }
  claimed.add(full)
  try {
    const lock = `${full}.lock`
    if (!await lockFile(path, lock)) return async () => { claimed.delete(full) }
    return async () => {
      claimed.delete(full)
      if (await readPid(lock) === process.pid) await unlink(lock).catch(() => {})
    }
  } catch (err) {
    claimed.delete(full)
    throw err
  }
}

/** Takes the lock file `lock` (see `claimIdentity`); false when the directory takes no file. */
async function lockFile (path: string, lock: string): Promise<boolean> {
  const mine = `${lock}.${process.pid}.${randomBytes(6).toString('hex')}`
  try {
    await writeFile(mine, `${process.pid}\n`, { flag: 'wx', mode: 0o600 })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return false
    throw new InvalidConfigError('identityFile', `cannot lock ${path}: ${(err as Error).message}`)
  }
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(mine, lock)
        return true
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (NO_LINKS.has(code ?? '')) return false // no hard links: no lock either
        if (code !== 'EEXIST') throw new InvalidConfigError('identityFile', `cannot lock ${path}: ${(err as Error).message}`)
      }
      const pid = await readPid(lock)
      if (pid === undefined) continue // gone meanwhile: try again
      if (pid !== process.pid && isRunning(pid)) {
        throw new InvalidConfigError('identityFile', `${path} is in use by process ${pid} (see ${lock}): give each node an identity file of its own, or delete that file if process ${pid} is not a REPRAM node`)
      }
      await takeOver(lock, pid)
    }
    throw new InvalidConfigError('identityFile', `cannot lock ${path}: ${lock} keeps changing hands`)
  } finally {
    await unlink(mine).catch(() => {})
  }
}

/** Moves aside a lock left by ended process `pid`, unless it turns out to be another claim's by then. */
async function takeOver (lock: string, pid: number): Promise<void> {
  const aside = `${lock}.${process.pid}.${randomBytes(6).toString('hex')}.old`
  try {
    await rename(lock, aside)
  } catch {
    return // moved by another claim meanwhile
  }
  if (!Object.is(await readPid(aside), pid)) {
    // A claim made since the check: it goes back (unless yet another took the place meanwhile).
    await link(aside, lock).catch(() => {})
  }
  await unlink(aside).catch(() => {})
}

/** The pid a lock file holds; NaN for one that holds none (not written by a claim: taken as held by nobody living), undefined when there is no file. */
async function readPid (lock: string): Promise<number | undefined> {
  let text: string
  try {
    text = await readFile(lock, 'utf8')
  } catch {
    return undefined
  }
  const pid = Number.parseInt(text, 10)
  return Number.isSafeInteger(pid) && pid > 0 ? pid : Number.NaN
}

function isRunning (pid: number): boolean {
  if (!Number.isSafeInteger(pid)) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' // running, as another user
  }
}

/** Errors of `link` on file systems that have no hard links. */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'])

/** The key in `path`, or `undefined` when there is no such file. */
async function readKey (path: string): Promise<PrivateKey | undefined> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new InvalidConfigError('identityFile', `cannot read ${path}: ${(err as Error).message}`)
  }
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new InvalidConfigError('identityFile', `${path} does not hold a libp2p private key: ${(err as Error).message}`)
  }
}

/** A new pre-shared swarm key, in the text format `psk` and `--psk` files take. */
export function generatePsk (): string {
  const bytes = new Uint8Array(95)
  generateKey(bytes)
  return new TextDecoder().decode(bytes)
}
