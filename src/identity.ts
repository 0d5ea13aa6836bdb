/**
 * Node identity and swarm keys: a persistent private key file (so the peer
 * id survives restarts) and pre-shared keys for private swarms.
 */
import { link, mkdir, readFile, realpath, stat, unlink, writeFile } from 'node:fs/promises'
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
 * linked into place; created exclusively where there are no hard links).
 * One left by a process that has ended is taken over: only by the holder
 * of a takeover mutex (`<path>.lock.steal`, itself taken over once 10 s
 * old), which reads the lock again before it removes it. A claim's release
 * deletes the lock only while it still holds this process's pid. A lock holding this
 * very pid that no claim of this process made was left by an earlier
 * process under the same pid (a container's first process, restarted) and
 * is taken over too. Where no lock file can be written (a read-only
 * directory), nodes are not kept apart across processes.
 */
export async function claimIdentity (path: string): Promise<() => Promise<void>> {
  // The file's real path: one file reached by two paths (a symlink to it or to its directory) is one claim.
  const full = await realpath(path).catch(async () => join(await realpath(dirname(resolve(path))).catch(() => dirname(resolve(path))), basename(path)))
  if (claimed.has(full)) {
    throw new InvalidConfigError('identityFile', `${path} is in use by another node of this process: give each node an identity file of its own`)
  }
  claimed.add(full)
  try {
    const lock = `${full}.lock`
    if (!await lockFile(path, lock)) return async () => { claimed.delete(full) }
    return async () => {
      // The lock goes first: a node of this process may claim the file as soon as it is free here.
      if (await readPid(lock) === process.pid) await unlink(lock).catch(() => {})
      claimed.delete(full)
    }
  } catch (err) {
    claimed.delete(full)
    throw err
  }
}

/** How old a takeover's mutex (`<lock>.steal`) must be before it counts as left by a process that died holding it, ms. */
const STEAL_STALE_MS = 10_000

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
  let links = true
  /** Creates `target` holding this pid, if it does not exist: linked whole, or where there are no hard links, created exclusively. */
  const place = async (target: string): Promise<boolean> => {
    try {
      if (links) await link(mine, target)
      else await writeFile(target, `${process.pid}\n`, { flag: 'wx', mode: 0o600 })
      return true
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EEXIST') return false
      if (links && NO_LINKS.has(code ?? '')) {
        links = false
        return await place(target)
      }
      throw new InvalidConfigError('identityFile', `cannot lock ${path}: ${(err as Error).message}`)
    }
  }
  const held = (pid: number): never => {
    throw new InvalidConfigError('identityFile', `${path} is in use by process ${pid} (see ${lock}): give each node an identity file of its own, or delete that file if process ${pid} is not a REPRAM node`)
  }
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      if (await place(lock)) return true
      const pid = await readPid(lock)
      if (pid === undefined) continue // gone meanwhile: try again
      if (pid !== process.pid && isRunning(pid)) held(pid)
      // Left by an ended process. Only the holder of the takeover mutex removes a lock, after
      // reading it again: a live lock appears only where none is, so none is ever removed.
      const steal = `${lock}.steal`
      if (!await place(steal)) {
        const age = await stat(steal).then(st => Date.now() - st.mtimeMs, () => 0)
        if (age > STEAL_STALE_MS) await unlink(steal).catch(() => {})
        await new Promise(resolve => setTimeout(resolve, 20))
        continue
      }
      try {
        const now = await readPid(lock)
        if (now !== undefined && now !== process.pid && isRunning(now)) held(now)
        if (now !== undefined) await unlink(lock).catch(() => {})
      } finally {
        await unlink(steal).catch(() => {})
      }
    }
    throw new InvalidConfigError('identityFile', `cannot lock ${path}: ${lock} keeps changing hands`)
  } finally {
    await unlink(mine).catch(() => {})
  }
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
