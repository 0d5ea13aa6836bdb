/**
 * Node identity and swarm keys: a persistent private key file (so the peer
 * id survives restarts) and pre-shared keys for private swarms.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { generateKey } from '@libp2p/pnet'
import { InvalidConfigError } from './errors.ts'
import type { PrivateKey } from '@libp2p/interface'

/**
 * Reads the private key in `path` (libp2p protobuf encoding), or creates a
 * new Ed25519 key there (mode 0600) when the file does not exist.
 */
export async function loadOrCreateIdentity (path: string): Promise<PrivateKey> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new InvalidConfigError('identityFile', `cannot read ${path}: ${(err as Error).message}`)
    }
    const key = await generateKeyPair('Ed25519')
    await mkdir(dirname(path), { recursive: true })
    await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
    return key
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
