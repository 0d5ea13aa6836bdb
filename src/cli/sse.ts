/**
 * A Server-Sent Events reader (the text/event-stream format of the WHATWG
 * HTML spec): what `repram watch` needs from the `/v1/watch` endpoint, with
 * no EventSource dependency. Pure over an async iterable of bytes.
 */

export interface SseEvent {
  /** The `event:` field; `message` when the server named none. */
  event: string
  /** The `data:` lines joined by `\n`. */
  data: string
  /** The last `id:` seen, if any. */
  id?: string
}

/** Yields each event of the stream as it completes (at its blank line). */
export async function * readSse (body: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder()
  let buffer = ''
  let event = ''
  let data: string[] = []
  let id: string | undefined

  const take = (line: string): SseEvent | undefined => {
    if (line === '') {
      const out = data.length > 0 ? { event: event === '' ? 'message' : event, data: data.join('\n'), id } : undefined
      event = ''
      data = []
      return out
    }
    if (line.startsWith(':')) return undefined
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') event = value
    else if (field === 'data') data.push(value)
    else if (field === 'id' && !value.includes('\0')) id = value
    return undefined
  }

  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true })
    // A trailing '\r' may be the first half of '\r\n': keep it for the next chunk.
    for (let m = /\r\n|\n|\r(?!$)/.exec(buffer); m !== null; m = /\r\n|\n|\r(?!$)/.exec(buffer)) {
      const line = buffer.slice(0, m.index)
      buffer = buffer.slice(m.index + m[0].length)
      const out = take(line)
      if (out !== undefined) yield out
    }
  }
  // An event not terminated by a blank line when the stream ends is discarded, as the spec says.
}
