/**
 * A stack of unsigned 32-bit integers in fixed 64 Ki-entry chunks. It grows
 * a chunk at a time: no big copy and no big allocation (which can trigger a
 * full garbage collection) in the middle of an expiry sweep that frees a
 * million slots.
 */
const CHUNK = 65536

export class UintStack {
  private readonly chunks: Uint32Array[] = []
  private count = 0

  get size (): number { return this.count }

  push (n: number): void {
    const c = this.count >>> 16
    if (c === this.chunks.length) this.chunks.push(new Uint32Array(CHUNK))
    this.chunks[c][this.count & (CHUNK - 1)] = n
    this.count++
  }

  /** The top value, removed; -1 when empty. */
  pop (): number {
    if (this.count === 0) return -1
    this.count--
    return this.chunks[this.count >>> 16][this.count & (CHUNK - 1)]
  }

  clear (): void {
    this.chunks.length = 0
    this.count = 0
  }
}
