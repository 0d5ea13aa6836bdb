/**
 * A slow link on loopback: a TCP relay on 127.0.0.1 that passes what its
 * upstream sends to the client at `rate` bytes per second, holding at most
 * 64 KiB itself (like a bottleneck router's queue: the rest waits in the
 * sender's socket buffers). The client-to-upstream direction is not slowed.
 */
import net from 'node:net'
import type { AddressInfo } from 'node:net'

export interface SlowLink {
  /** The port clients connect to. */
  port: number
  /** Bytes passed to clients so far. */
  bytesDown: () => number
  close: () => Promise<void>
}

const QUEUE_BYTES = 64 * 1024
const TICK_MS = 20

export async function slowLink (upstreamPort: number, rate: number): Promise<SlowLink> {
  const sockets = new Set<net.Socket>()
  const timers = new Set<ReturnType<typeof setInterval>>()
  let down = 0
  const server = net.createServer(client => {
    const upstream = net.connect(upstreamPort, '127.0.0.1')
    sockets.add(client)
    sockets.add(upstream)
    client.pipe(upstream)
    const queue: Buffer[] = []
    let queued = 0
    upstream.on('data', (chunk: Buffer) => {
      queue.push(chunk)
      queued += chunk.length
      if (queued > QUEUE_BYTES) upstream.pause()
    })
    const timer = setInterval(() => {
      let budget = Math.floor(rate * TICK_MS / 1000)
      while (budget > 0 && queue.length > 0) {
        const chunk = queue[0]
        const n = Math.min(budget, chunk.length)
        client.write(chunk.subarray(0, n))
        down += n
        if (n === chunk.length) queue.shift()
        else queue[0] = chunk.subarray(n)
        queued -= n
        budget -= n
      }
      if (queued <= QUEUE_BYTES && upstream.isPaused()) upstream.resume()
    }, TICK_MS)
    timers.add(timer)
    const end = (): void => {
      clearInterval(timer)
      timers.delete(timer)
      client.destroy()
      upstream.destroy()
    }
    client.on('close', end)
    upstream.on('close', end)
    client.on('error', end)
    upstream.on('error', end)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    bytesDown: () => down,
    close: async () => {
      for (const timer of timers) clearInterval(timer)
      for (const socket of sockets) socket.destroy()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}
