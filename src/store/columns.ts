/**
 * Typed-array columns that grow in place.
 *
 * The store's per-slot metadata and its expiry heap grow with the data, to
 * about 60 MB at a million entries. Growing a plain typed array means
 * allocating a larger one and copying the old one into it: filling a store
 * allocated about twice the final size, and V8 runs a full collection of the
 * whole heap each time 64 MB of new `ArrayBuffer` memory has been allocated
 * since the last one ("external memory pressure").
 *
 * A column is a fixed-length view of a resizable `ArrayBuffer` that reserves
 * address space for `maxLength` elements up front and commits memory only
 * as the column grows: growing allocates nothing new, copies nothing, and
 * commits a quarter more than needed at a time instead of doubling. Reserved
 * address space that is never used costs no memory. When the reservation is
 * refused (a process address-space limit, `ulimit -v`) or outgrown, a column
 * falls back to growing by copying.
 *
 * `process.memoryUsage().arrayBuffers` does not count resizable buffers: a
 * column's `byteLength` is the memory it holds.
 */

export type Column = Float64Array | Uint32Array

export interface ColumnType<T extends Column> {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T
  readonly BYTES_PER_ELEMENT: number
}

/** Largest reservation per column, bytes (address space, not memory). */
const MAX_RESERVE = 2 ** 36

/** The length to grow to when `needed` elements must fit: a quarter more (at least 1,024 more). */
export function grownLength (needed: number): number {
  return needed + Math.max(1024, Math.floor(needed / 4))
}

/** A zeroed column of `length` elements, with room to grow in place to `maxLength`. */
export function column<T extends Column> (type: ColumnType<T>, length: number, maxLength: number): T {
  const bytes = length * type.BYTES_PER_ELEMENT
  const max = Math.max(bytes, Math.min(maxLength * type.BYTES_PER_ELEMENT, MAX_RESERVE))
  let buffer: ArrayBuffer
  try {
    buffer = new ArrayBuffer(bytes, { maxByteLength: max })
  } catch {
    buffer = new ArrayBuffer(bytes) // no address space to reserve: grow by copying
  }
  return new type(buffer, 0, length)
}

/**
 * `a` grown to `length` elements, its contents kept and the new elements
 * zero: in place when its reservation allows, else a copy (then `a` must no
 * longer be used).
 */
export function growColumn<T extends Column> (type: ColumnType<T>, a: T, length: number): T {
  const buffer = a.buffer as ArrayBuffer
  const bytes = length * type.BYTES_PER_ELEMENT
  if (buffer.resizable && bytes <= buffer.maxByteLength) {
    buffer.resize(bytes)
    return new type(buffer, 0, length)
  }
  const grown = column(type, length, 2 * length)
  grown.set(a)
  return grown
}
