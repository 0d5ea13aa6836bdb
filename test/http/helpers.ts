/** Shared set-up for the HTTP adapter tests: real nodes on loopback, real servers, and an SSE reader. */
import { RepramNode } from '../../src/index.ts'
import { startHttpServer, type HttpOptions, type StartedHttpServer } from '../../src/http/index.ts'
import type { RepramNodeInit } from '../../src/index.ts'

/** A started node on loopback with mDNS off and short TTLs allowed. */
export async function startNode (init: RepramNodeInit = {}): Promise<RepramNode> {
  const node = new RepramNode({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, minTtl: 100, syncInterval: 0, ...init })
  await node.start()
  return node
}

export interface Served {
  node: RepramNode
  http: StartedHttpServer
  url: string
  stop: () => Promise<void>
}

/** A started node served over HTTP (rate limiting off unless asked for). */
export async function serveNode (init: RepramNodeInit = {}, options: HttpOptions = {}): Promise<Served> {
  const node = await startNode(init)
  try {
    const http = await startHttpServer(node, { rateLimit: false, ...options })
    return {
      node,
      http,
      url: http.url,
      stop: async () => {
        await http.close()
        await node.stop()
      }
    }
  } catch (err) {
    await node.stop()
    throw err
  }
}

export interface SseEvent {
  event: string
  data: string
}

/**
 * Reads a `text/event-stream` response frame by frame. `next()` resolves
 * with the next event (comments are collected in `comments`), or rejects
 * at its deadline.
 */
export class SseReader {
  readonly comments: string[] = []
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>
  readonly #decoder = new TextDecoder()
  #buffer = ''
  #ended = false

  constructor (res: Response) {
    if (res.body === null) throw new Error('the response has no body')
    this.#reader = res.body.getReader()
  }

  get ended (): boolean {
    return this.#ended
  }

  /** The next event whose name passes `filter`, skipping the others. */
  async next (opts: { timeout?: number, filter?: (e: SseEvent) => boolean } = {}): Promise<SseEvent> {
    const deadline = Date.now() + (opts.timeout ?? 5000)
    for (;;) {
      const frame = await this.#frame(deadline)
      if (frame === undefined) throw new Error('the event stream ended')
      let event = 'message'
      const data: string[] = []
      let isComment = true
      for (const line of frame.split('\n')) {
        if (line.startsWith(':')) {
          this.comments.push(line.slice(1).trim())
          continue
        }
        isComment = false
        const colon = line.indexOf(':')
        const field = colon === -1 ? line : line.slice(0, colon)
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'event') event = value
        if (field === 'data') data.push(value)
      }
      if (isComment) continue
      const e = { event, data: data.join('\n') }
      if (opts.filter === undefined || opts.filter(e)) return e
    }
  }

  /** Waits until a comment equal to `text` has arrived. */
  async comment (text: string, timeout = 5000): Promise<void> {
    const deadline = Date.now() + timeout
    while (!this.comments.includes(text)) {
      const frame = await this.#frame(deadline)
      if (frame === undefined) throw new Error('the event stream ended')
      for (const line of frame.split('\n')) if (line.startsWith(':')) this.comments.push(line.slice(1).trim())
    }
  }

  /** Resolves once the server ends the stream, or rejects at the deadline. */
  async end (timeout = 5000): Promise<void> {
    const deadline = Date.now() + timeout
    while (await this.#frame(deadline) !== undefined) { /* skip */ }
  }

  async cancel (): Promise<void> {
    await this.#reader.cancel().catch(() => {})
  }

  async #frame (deadline: number): Promise<string | undefined> {
    for (;;) {
      const end = this.#buffer.indexOf('\n\n')
      if (end !== -1) {
        const frame = this.#buffer.slice(0, end)
        this.#buffer = this.#buffer.slice(end + 2)
        return frame
      }
      if (this.#ended) return undefined
      const remaining = deadline - Date.now()
      if (remaining <= 0) throw new Error('timed out waiting for an event')
      let timer: ReturnType<typeof setTimeout> | undefined
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => { reject(new Error('timed out waiting for an event')) }, remaining)
      })
      try {
        const { done, value } = await Promise.race([this.#reader.read(), timeout])
        if (done) this.#ended = true
        else this.#buffer += this.#decoder.decode(value, { stream: true })
      } finally {
        clearTimeout(timer)
      }
    }
  }
}

/** Parses Prometheus text: `name{labels} value` lines (comments skipped) into samples; throws on a line that does not parse. */
export function parsePrometheus (text: string): Array<{ name: string, labels: Record<string, string>, value: number }> {
  const samples: Array<{ name: string, labels: Record<string, string>, value: number }> = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    if (m[2] !== undefined && m[2] !== '') {
      for (const pair of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2]
    }
    const value = m[3] === '+Inf' ? Infinity : Number(m[3])
    if (Number.isNaN(value)) throw new Error(`not a number in: ${line}`)
    samples.push({ name: m[1], labels, value })
  }
  return samples
}
