/**
 * The key -> slot index of the store: open addressing with linear probing
 * over one `Uint32Array` of `[slot + 1, hash]` cells (slot 0 = empty),
 * keyed by the key's 32-bit hash (a keyed one: see index-hash.ts).
 * Keeping the hash in the cell means a probe compares hashes without
 * touching anything else, and only a matching hash costs a look at the key
 * itself.
 *
 * Why not a `Map`: a `Map` costs about 30 bytes per key, and V8 shrinks and
 * rehashes it inside a single `delete` once enough keys are gone, a pause of
 * tens of milliseconds at a million keys, right in the middle of an expiry
 * sweep. Here deletes use backward-shift deletion (no tombstones, never a
 * rehash) and the table only grows, on insert, at 60% load.
 */
import { mix32 } from './digest.ts'

const MAX_LOAD = 0.6
const INITIAL_CELLS = 2048

export class KeyIndex {
  private table = new Uint32Array(INITIAL_CELLS * 2)
  private mask = INITIAL_CELLS - 1
  private count = 0

  get size (): number { return this.count }

  clear (): void {
    this.table = new Uint32Array(INITIAL_CELLS * 2)
    this.mask = INITIAL_CELLS - 1
    this.count = 0
  }

  /**
   * The slot holding `key` (whose hash is `hash`), or -1. `refs` holds each
   * slot's key at `2 * slot` (the store keeps `[key, value]` pairs).
   */
  find (key: string, hash: number, refs: ArrayLike<unknown>): number {
    const table = this.table
    const mask = this.mask
    for (let i = mix32(hash) & mask; ; i = (i + 1) & mask) {
      const cell = table[2 * i]
      if (cell === 0) return -1
      if (table[2 * i + 1] === hash && refs[2 * (cell - 1)] === key) return cell - 1
    }
  }

  /** Adds `slot` (not present yet) under `hash`. */
  insert (hash: number, slot: number): void {
    if (this.count + 1 > (this.mask + 1) * MAX_LOAD) this.grow()
    this.place(hash, slot)
    this.count++
  }

  /** Removes `slot` (present, under `hash`). */
  remove (hash: number, slot: number): void {
    const table = this.table
    const mask = this.mask
    let i = mix32(hash) & mask
    while (table[2 * i] !== slot + 1) {
      if (table[2 * i] === 0) return
      i = (i + 1) & mask
    }
    // Backward-shift: pull later cells of the probe run into the hole when
    // their ideal position does not lie (cyclically) between hole and cell.
    table[2 * i] = 0
    for (let j = (i + 1) & mask; table[2 * j] !== 0; j = (j + 1) & mask) {
      const ideal = mix32(table[2 * j + 1]) & mask
      const between = i <= j ? (ideal > i && ideal <= j) : (ideal > i || ideal <= j)
      if (!between) {
        table[2 * i] = table[2 * j]
        table[2 * i + 1] = table[2 * j + 1]
        table[2 * j] = 0
        i = j
      }
    }
    this.count--
  }

  private place (hash: number, slot: number): void {
    const table = this.table
    const mask = this.mask
    let i = mix32(hash) & mask
    while (table[2 * i] !== 0) i = (i + 1) & mask
    table[2 * i] = slot + 1
    table[2 * i + 1] = hash
  }

  private grow (): void {
    const old = this.table
    this.table = new Uint32Array(old.length * 2)
    this.mask = this.table.length / 2 - 1
    for (let i = 0; i < old.length; i += 2) {
      if (old[i] !== 0) this.place(old[i + 1], old[i] - 1)
    }
  }
}
