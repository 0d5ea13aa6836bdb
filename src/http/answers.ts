/**
 * GET answers kept for keys that are read again.
 *
 * The answer to `GET /v1/data/{key}` is fixed by three things: the entry
 * (one version of one key), the whole seconds of TTL it has left
 * (`X-Remaining-TTL`), and the request's CORS headers. A key read over and
 * over (a board its readers poll, a drop fetched by several clients) would
 * otherwise have its key decoded and validated, its entry looked up, and a
 * dozen header values formatted on every request. With its answer kept, a
 * request re-checks the kept entry against the node and sends the same
 * header list again.
 *
 * Correctness rests on that re-check, `isCurrent` (the same version, not
 * expired): an overwritten, deleted or expired key fails it and is read
 * afresh, so nothing is answered from here that a fresh read would not
 * answer. The header list is rebuilt when the TTL left crosses a second or
 * the CORS headers differ.
 *
 * Keyed by the key as the path spells it (still percent-encoded): a hit also
 * skips decoding it. Answers are kept only for nodes that offer `isCurrent`.
 *
 * Admission: one fresh read in `ADMIT_EVERY` is kept. A key read over and
 * over is kept within a few reads; reads spread over many keys mostly skip
 * the bookkeeping, and the garbage collector the work of keeping answers
 * alive that are never read again. A kept answer that needs new headers is
 * always kept again.
 *
 * Bounded: at most `MAX_KEPT` keys, and at most `MAX_PINNED_BYTES` of
 * memory kept alive. A kept entry's value keeps the buffer it is a view of
 * alive (a 64 KiB log slab for a small value, the value's own array for a
 * large one), even once the key has moved on; each answer counts its whole
 * buffer. When either bound would be crossed the map starts over (no
 * recency bookkeeping on the hot path); a value whose buffer alone is over
 * the byte bound is not kept.
 */
import type { OutgoingHttpHeaders } from 'node:http'
import type { Entry } from '../types.ts'

/** Most keys whose answers are kept. */
export const MAX_KEPT = 128
/** Most bytes of buffers that kept answers may hold on to. */
export const MAX_PINNED_BYTES = 8 * 1024 * 1024
/** One fresh read in this many is kept (a power of two). */
export const ADMIT_EVERY = 8

export interface KeptAnswer {
  readonly entry: Entry
  /** The CORS headers the list was built with (compared by identity: fixed CORS settings give one object). */
  readonly cors: Readonly<OutgoingHttpHeaders>
  /** Whole seconds of TTL left that the list reports. */
  readonly remaining: number
  /** The answer's headers, as the flat list `writeHead` takes. */
  readonly headers: ReadonlyArray<string | number>
}

export class AnswerCache {
  readonly #kept = new Map<string, KeptAnswer>()
  #pinned = 0
  #fresh = 0

  get size (): number { return this.#kept.size }
  /** Bytes of the buffers the kept answers' values are views of (a buffer shared by several counts for each). */
  get pinnedBytes (): number { return this.#pinned }

  /** The answer kept for the key spelled `rawKey` in the path, if any. It may be stale: check its entry. */
  get (rawKey: string): KeptAnswer | undefined {
    return this.#kept.get(rawKey)
  }

  /** Whether to keep the answer of a fresh read (not of a kept answer rebuilt): true once in `ADMIT_EVERY` calls. */
  admit (): boolean {
    this.#fresh = (this.#fresh + 1) & (ADMIT_EVERY - 1)
    return this.#fresh === 0
  }

  keep (rawKey: string, answer: KeptAnswer): void {
    const pin = answer.entry.value.buffer.byteLength
    this.forget(rawKey)
    if (pin > MAX_PINNED_BYTES) return
    if (this.#kept.size >= MAX_KEPT || this.#pinned + pin > MAX_PINNED_BYTES) {
      this.#kept.clear()
      this.#pinned = 0
    }
    this.#kept.set(rawKey, answer)
    this.#pinned += pin
  }

  forget (rawKey: string): void {
    const answer = this.#kept.get(rawKey)
    if (answer === undefined) return
    this.#kept.delete(rawKey)
    this.#pinned -= answer.entry.value.buffer.byteLength
  }
}
