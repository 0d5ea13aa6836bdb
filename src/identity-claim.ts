/**
 * One running node per identity file. Two nodes running with one identity
 * have one peer id: the network takes them for one peer (one of them never
 * joins) and their writes for one writer's. So a node claims its identity
 * file for as long as it runs, and a second node, in this process (another
 * thread included) or another process on this machine, is refused with
 * `InvalidConfigError`.
 *
 * The claim is a local socket that the node listens on, named after the
 * identity file's real path (so a symlink to the file, or to its directory,
 * names the same claim): on Linux one in the abstract namespace, on Windows
 * a named pipe. The system hands a name to one listener at a time, and takes
 * it back when that listener closes or its process ends, a crash included,
 * so there is no lock file to leave behind, take over or race for. A node
 * refused connects to the name and is told the holder's pid, for its error
 * message. Elsewhere (macOS, the BSDs) the socket is a file in the temporary
 * directory; one left by a crash refuses connections, and is replaced.
 *
 * Limits: the abstract namespace belongs to the network namespace, so
 * containers that share a volume but not a network are not kept apart; nor
 * are hard links to one key file, which have real paths of their own.
 */
import { createHash } from 'node:crypto'
import { createConnection, createServer } from 'node:net'
import { realpath, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { InvalidConfigError } from './errors.ts'
import type { Server } from 'node:net'

/**
 * Claims the identity file at `path` for one running node, and resolves to
 * the function that gives it back (at `stop()`).
 */
export async function claimIdentity (path: string): Promise<() => Promise<void>> {
  const full = await realpath(path).catch(async () => join(await realpath(dirname(resolve(path))).catch(() => dirname(resolve(path))), basename(path)))
  const { name, isFile } = socketName(createHash('sha256').update(full).digest('hex').slice(0, 32))
  for (let attempt = 0; ; attempt++) {
    const server = createServer(socket => { socket.end(String(process.pid)) })
    const err = await new Promise<NodeJS.ErrnoException | undefined>(resolve => {
      server.once('error', resolve)
      server.listen(name, () => { server.off('error', resolve); resolve(undefined) })
    })
    if (err === undefined) {
      server.unref() // the claim keeps no process alive
      return async () => { await close(server) }
    }
    if (err.code !== 'EADDRINUSE') throw new InvalidConfigError('identityFile', `cannot claim ${path} for this node: ${err.message}`)
    const holder = await askHolder(name)
    if (holder === undefined && isFile && attempt === 0) {
      await unlink(name).catch(() => {}) // a socket file left by a crash: nobody listens on it
      continue
    }
    const who = holder === undefined ? 'another process' : holder === process.pid ? 'another node of this process' : `process ${holder}`
    throw new InvalidConfigError('identityFile', `${path} is in use by ${who}: give each node an identity file of its own`)
  }
}

/** The claim's name; `isFile` when it is a socket file, which outlives a crash of its listener. */
function socketName (hash: string): { name: string, isFile: boolean } {
  if (process.platform === 'linux') return { name: `\0repram-identity-${hash}`, isFile: false }
  if (process.platform === 'win32') return { name: `\\\\?\\pipe\\repram-identity-${hash}`, isFile: false }
  return { name: join(tmpdir(), `repram-identity-${hash}.sock`), isFile: true }
}

/** The pid the claim's holder tells, or `undefined` when nobody answers with one (a socket file without a listener). */
async function askHolder (name: string): Promise<number | undefined> {
  return await new Promise<number | undefined>(resolve => {
    let told = ''
    const socket = createConnection(name)
    socket.setTimeout(2000, () => { socket.destroy() })
    socket.on('data', (chunk: Buffer) => { told += chunk.toString() })
    socket.on('error', () => {})
    socket.on('close', () => { resolve(/^\d+$/.test(told) ? Number(told) : undefined) })
  })
}

async function close (server: Server): Promise<void> {
  await new Promise<void>(resolve => { server.close(() => { resolve() }) })
}
