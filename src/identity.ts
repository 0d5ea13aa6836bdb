/**
 * Node identity and swarm keys: a persistent private key file (so the peer
 * id survives restarts) and pre-shared keys for private swarms.
 */
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { dirname } from 'node:path'
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
