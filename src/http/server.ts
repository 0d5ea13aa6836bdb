/** The server levels of the API: an `http.Server` whose `close()` also ends watch streams, and listening on it. */
import { Server, type IncomingMessage, type ServerResponse } from 'node:http'
import { AbortError } from '../errors.ts'
import { continueOnRead } from './body.ts'
import type { HttpHandler, StartedHttpServer } from './index.ts'

/**
 * An `http.Server` that aborts `shutdown` when closed. Watch streams end on
 * that signal: without it `close()` would wait for every subscriber to hang up.
 */
export class RepramHttpServer extends Server {
  readonly #shutdown: AbortController

  constructor (handler: HttpHandler, shutdown: AbortController) {
    super((req: IncomingMessage, res: ServerResponse) => { handler(req, res) })
    this.#shutdown = shutdown
    // `Expect: 100-continue`: the client waits for 100 before it uploads.
    // Node would send it before the handler saw the request; here it goes
    // out only when the body is read (see `readBody`), so a request refused
    // first (too large by its Content-Length, a bad key or TTL, rate
    // limited) gets its answer without the upload.
    this.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      continueOnRead(req, res)
      handler(req, res)
    })
  }

  override close (callback?: (err?: Error) => void): this {
    this.#shutdown.abort()
    return super.close(callback)
  }
}

export interface ListenOptions {
  port: number
  host: string
  signal?: AbortSignal
}

/** Makes `server` listen and returns its URL and an idempotent `close()`; aborting `signal` closes it too. */
export async function listen (server: Server, { port, host, signal }: ListenOptions): Promise<StartedHttpServer> {
  if (signal?.aborted === true) throw new AbortError()

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => { reject(err) }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })

  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closing ??= new Promise<void>(resolve => {
      signal?.removeEventListener('abort', onAbort)
      // the callback's error only says the server was already closed: the wanted state
      server.close(() => { resolve() })
    })
    return closing
  }
  const onAbort = (): void => { void close() }
  signal?.addEventListener('abort', onAbort, { once: true })
  // it may have been aborted while we were binding
  if (isAborted(signal)) {
    await close()
    throw new AbortError()
  }

  return { url: urlOf(server), server, close }
}

function urlOf (server: Server): string {
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the HTTP server is not listening on TCP')
  let host = address.address
  if (host === '0.0.0.0') host = '127.0.0.1'
  if (host === '::') host = '::1'
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`
}

function isAborted (signal?: AbortSignal): boolean {
  return signal?.aborted === true
}
