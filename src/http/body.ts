/**
 * Reads a request body into memory with a hard size limit. Bytes are counted
 * as they arrive, whatever `Content-Length` claims (chunked bodies have none,
 * and a client may lie), and reading stops as soon as the limit is passed so
 * an oversized upload never sits in memory.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ValueTooLargeError } from '../errors.ts'

/** Requests whose client waits for `100 Continue` before sending the body. */
const pendingContinue = new WeakMap<IncomingMessage, () => void>()

/**
 * For a request that came with `Expect: 100-continue`: `readBody` sends the
 * `100 Continue` when it starts reading, not before, so a request answered
 * without reading its body never makes the client upload it.
 */
export function continueOnRead (req: IncomingMessage, res: ServerResponse): void {
  pendingContinue.set(req, () => { res.writeContinue() })
}

/**
 * Resolves with the whole body, or rejects with `ValueTooLargeError` once
 * more than `limit` bytes arrived (or were announced by `Content-Length`).
 * After a rejection the rest of the body is discarded as it arrives, so the
 * 413 response can still reach the client.
 */
export function readBody (req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) {
    req.resume()
    return Promise.reject(new ValueTooLargeError(declared, limit, 'maxBodyBytes'))
  }
  const sendContinue = pendingContinue.get(req)
  if (sendContinue !== undefined) {
    pendingContinue.delete(req)
    sendContinue()
  }

  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const cleanup = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.byteLength
      if (size > limit) {
        cleanup()
        chunks.length = 0
        // keep draining (and dropping) what is still in flight
        req.resume()
        reject(new ValueTooLargeError(size, limit, 'maxBodyBytes'))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      cleanup()
      // a fresh array of exactly `size` bytes: socket chunks may be views
      // into larger shared buffers that the store should not keep alive
      const body = new Uint8Array(size)
      let offset = 0
      for (const chunk of chunks) {
        body.set(chunk, offset)
        offset += chunk.byteLength
      }
      resolve(body)
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(err)
    }
    const onClose = (): void => {
      if (req.complete) return
      cleanup()
      reject(Object.assign(new Error('the client closed the connection before sending the whole body'), { name: 'AbortError' }))
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}
