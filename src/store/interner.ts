/**
 * Reference-counted string interning: the store keeps one copy of each
 * origin peer id and content type, and slots refer to it by a small index.
 * An index is released (and reused) when no slot refers to it any more, so
 * the table is bounded by what the store holds.
 */
/** Bytes counted for each string held besides its characters: its table entries, about what they take on the heap. */
export const INTERNED_OVERHEAD = 64

export class Interner {
  private readonly ids = new Map<string, number>()
  private strings: Array<string | undefined> = []
  private refs: number[] = []
  private readonly free: number[] = []
  /** Per-index 32-bit hash of the string, for the sync digest. */
  readonly hashes: number[] = []
  /** What the strings held take, by {@link Interner.cost}. */
  private total = 0
  private readonly hash: (s: string) => number

  constructor (hash: (s: string) => number) {
    this.hash = hash
  }

  /** Index of `s`, taking a reference. */
  acquire (s: string): number {
    let id = this.ids.get(s)
    if (id === undefined) {
      id = this.free.pop() ?? this.strings.length
      this.ids.set(s, id)
      this.strings[id] = s
      this.refs[id] = 0
      this.hashes[id] = this.hash(s)
      this.total += INTERNED_OVERHEAD + s.length
    }
    this.refs[id]++
    return id
  }

  release (id: number): void {
    if (--this.refs[id] === 0) {
      this.total -= INTERNED_OVERHEAD + this.strings[id]!.length
      this.ids.delete(this.strings[id]!)
      this.strings[id] = undefined
      this.free.push(id)
    }
  }

  get (id: number): string {
    return this.strings[id]!
  }

  get size (): number { return this.ids.size }

  /** Bytes the strings held take (each its length plus {@link INTERNED_OVERHEAD}). */
  get bytes (): number { return this.total }

  /** The bytes holding `s` would add: none when it is held already. */
  cost (s: string): number {
    return this.ids.has(s) ? 0 : INTERNED_OVERHEAD + s.length
  }

  /** The bytes releasing one reference to `id` would free: all of its string's when it is the last one. */
  freed (id: number): number {
    return this.refs[id] === 1 ? INTERNED_OVERHEAD + this.strings[id]!.length : 0
  }
}
