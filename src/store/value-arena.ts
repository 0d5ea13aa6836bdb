/**
 * Where the store keeps small values: slabs of fixed-size cells, one cell
 * per value, instead of one `Uint8Array` per value. A separate
 * `Uint8Array` costs about 200 bytes of object and buffer headers, more
 * than a typical small value itself; a cell costs its rounding only.
 *
 * Cells come in size classes (multiples of 16 bytes up to `MAX_ARENA_VALUE`);
 * each class has 64 KiB slabs and a free list, so freed cells are reused and
 * memory does not fragment. A value is copied in on write and copied out on
 * read: nothing outside the arena ever holds a view of a cell, so reusing a
 * cell can never change a value someone else holds.
 *
 * A handle is `class + CLASSES * cellIndex`, a small integer (a V8 Smi in
 * the store's arrays: no allocation).
 */
import { UintStack } from './uint-stack.ts'

/** Largest value kept in the arena, bytes; larger ones keep their own array. */
export const MAX_ARENA_VALUE = 1024
const GRANULE = 16
const CLASSES = MAX_ARENA_VALUE / GRANULE
const SLAB_BYTES = 64 * 1024

class SizeClass {
  readonly cellBytes: number
  readonly cellsPerSlab: number
  readonly slabs: Uint8Array[] = []
  private readonly free = new UintStack()
  private used = 0

  constructor (cellBytes: number) {
    this.cellBytes = cellBytes
    this.cellsPerSlab = Math.floor(SLAB_BYTES / cellBytes)
  }

  alloc (): number {
    const reused = this.free.pop()
    if (reused >= 0) return reused
    const cell = this.used++
    if (cell >= this.slabs.length * this.cellsPerSlab) this.slabs.push(new Uint8Array(this.cellsPerSlab * this.cellBytes))
    return cell
  }

  release (cell: number): void {
    this.free.push(cell)
  }

  write (cell: number, value: Uint8Array): void {
    this.slabs[(cell / this.cellsPerSlab) | 0].set(value, (cell % this.cellsPerSlab) * this.cellBytes)
  }

  /** A fresh copy of the first `length` bytes of the cell. */
  read (cell: number, length: number): Uint8Array {
    const offset = (cell % this.cellsPerSlab) * this.cellBytes
    return this.slabs[(cell / this.cellsPerSlab) | 0].slice(offset, offset + length)
  }
}

export class ValueArena {
  private readonly classes: SizeClass[] = Array.from({ length: CLASSES }, (_, i) => new SizeClass((i + 1) * GRANULE))

  /** Copies `value` (1 to `MAX_ARENA_VALUE` bytes) into a cell; returns its handle. */
  store (value: Uint8Array): number {
    const c = ((value.length + GRANULE - 1) / GRANULE | 0) - 1
    const cls = this.classes[c]
    const cell = cls.alloc()
    cls.write(cell, value)
    return c + CLASSES * cell
  }

  /** A fresh copy of the `length` bytes under `handle`. */
  read (handle: number, length: number): Uint8Array {
    const c = handle % CLASSES
    return this.classes[c].read((handle - c) / CLASSES, length)
  }

  release (handle: number): void {
    const c = handle % CLASSES
    this.classes[c].release((handle - c) / CLASSES)
  }
}
