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
 * Bounded: at most `MAX_KEPT` keys; when full, the map starts over (no
 * recency bookkeeping on the hot path). A kept entry's value is a view of
 * the store's memory and keeps its 64 KiB slab alive, so at most `MAX_KEPT`
 * slabs (8 MiB) outlive their values because of this cache.
 */
import type { OutgoingHttpHeaders } from 'node:http'
import type { Entry } from '../types.ts'

/** Most keys whose answers are kept. */
export const MAX_KEPT = 128

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

  get size (): number { return this.#kept.size }

  /** The answer kept for the key spelled `rawKey` in the path, if any. It may be stale: check its entry. */
  get (rawKey: string): KeptAnswer | undefined {
    return this.#kept.get(rawKey)
  }

  keep (rawKey: string, answer: KeptAnswer): void {
    if (this.#kept.size >= MAX_KEPT && !this.#kept.has(rawKey)) this.#kept.clear()
    this.#kept.set(rawKey, answer)
  }

  forget (rawKey: string): void {
    this.#kept.delete(rawKey)
  }
}
