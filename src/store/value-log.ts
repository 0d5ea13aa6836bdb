/**
 * Where the store keeps small values: an append-only log of 64 KiB slabs.
 *
 * A value is copied in once, on write, and read out as a view of the slab:
 * no copy and no new buffer per read. That is safe because a byte in a slab
 * is written once and never again. A view handed out stays valid, with the
 * same bytes, for as long as anybody holds it, after the value was
 * overwritten, deleted, expired or moved; the garbage collector frees a
 * dropped slab once the last view of it is gone.
 *
 * A separate `Uint8Array` per value would cost about 200 bytes of object and
 * buffer headers, more than a typical small value; a record here costs an
 * 8-byte header and its padding to 8 bytes.
 *
 * Space of dead values is reclaimed a slab at a time:
 * - a slab whose records are all dead is dropped, or kept for reuse (up to
 *   `POOL_SLABS` of them) when nothing ever read from it: with no view of it
 *   anywhere, overwriting it cannot be seen. A store that is written and
 *   expires without being read (a replica, say) thus allocates nothing in
 *   its steady state, and does not add to the garbage collector's work;
 * - a slab (other than the head, the one being appended to) whose live share
 *   falls below 1/4 is evacuated: its live records are appended to the head,
 *   their owner is told the new handle (`onMove`), and the slab is dropped.
 * So dead bytes stay below 3x the live bytes even in the worst interleaving
 * of long- and short-lived values. The price, in the common case of a TTL
 * store (values written together expire together): a slab's last quarter
 * is moved before it would have expired (about one value in four is copied
 * once more; measured: 25,043 moves for 100,000 values expiring in the
 * order they were written).
 *
 * Record layout, at 8-byte aligned offsets: `[owner u32][length u32][bytes,
 * zero-padded to 8]`; `owner` is `DEAD` once released. A handle is
 * `slab index * SLAB_BYTES + record offset`: an integer (a V8 Smi in the
 * store's arrays while below 2^31, i.e. up to 32,768 slabs or 2 GiB).
 */

/** Largest value kept in the log, bytes; larger ones keep their own array. */
export const MAX_LOG_VALUE = 1024
const SLAB_BYTES = 64 * 1024
const HEADER = 8
const DEAD = 0xffffffff
/** A slab is evacuated when its live bytes fall below this share. */
const EVACUATE_BELOW = SLAB_BYTES / 4
/** Most empty slabs kept for reuse. */
const POOL_SLABS = 16

const recordBytes = (length: number): number => HEADER + ((length + 7) & ~7)

export class ValueLog {
  /** Per slab index: its bytes, a 32-bit view of them (headers), live bytes, bytes used; `undefined` when dropped. */
  private readonly bytes: Array<Uint8Array | undefined> = []
  private readonly words: Array<Uint32Array | undefined> = []
  /** Per slab index: its `ArrayBuffer` (reading `.buffer` of a typed array is a call into the runtime). */
  private readonly buffers: Array<ArrayBuffer | undefined> = []
  private readonly live: number[] = []
  private readonly used: number[] = []
  /** Per slab index: whether a view of it was ever handed out (then it is never reused). */
  private readonly viewed: boolean[] = []
  private readonly freeIds: number[] = []
  /** Empty slabs never viewed, ready for reuse. */
  private readonly pool: Uint8Array[] = []
  private allocated = 0
  private head = -1
  private readonly onMove: (owner: number, handle: number) => void

  /** `onMove(owner, handle)`: a live record of `owner` now lives under `handle` (its old handle is gone). */
  constructor (onMove: (owner: number, handle: number) => void) {
    this.onMove = onMove
  }

  /** Slabs held (the head included). */
  get slabCount (): number { return this.bytes.length - this.freeIds.length }

  /** Slabs allocated so far (reused ones count once). */
  get slabsAllocated (): number { return this.allocated }

  /** Bytes of live records, headers and padding included. */
  get liveBytes (): number {
    let sum = 0
    for (let s = 0; s < this.live.length; s++) if (this.bytes[s] !== undefined) sum += this.live[s]
    return sum
  }

  /** Copies `value` (1 to `MAX_LOG_VALUE` bytes) in, owned by `owner` (a non-negative integer below 2^32 - 1); returns its handle. */
  store (value: Uint8Array, owner: number): number {
    const size = recordBytes(value.length)
    let s = this.head
    if (s < 0 || this.used[s] + size > SLAB_BYTES) s = this.openHead()
    const off = this.used[s]
    const words = this.words[s]!
    words[off >>> 2] = owner
    words[(off >>> 2) + 1] = value.length
    this.bytes[s]!.set(value, off + HEADER)
    this.used[s] = off + size
    this.live[s] += size
    return s * SLAB_BYTES + off
  }

  /** A view of the `length` bytes under `handle` (not a copy: the bytes never change). */
  read (handle: number, length: number): Uint8Array {
    const s = Math.floor(handle / SLAB_BYTES)
    this.viewed[s] = true
    // A slab is a whole buffer of its own (`byteOffset` 0).
    return new Uint8Array(this.buffers[s]!, handle - s * SLAB_BYTES + HEADER, length)
  }

  /** The record under `handle` is dead. May evacuate its slab (calling `onMove` for others). */
  release (handle: number): void {
    const s = Math.floor(handle / SLAB_BYTES)
    const words = this.words[s]!
    const w = (handle - s * SLAB_BYTES) >>> 2
    words[w] = DEAD
    this.live[s] -= recordBytes(words[w + 1])
    if (s !== this.head) this.reclaim(s)
  }

  /** Drops everything (views already handed out stay valid). */
  clear (): void {
    this.bytes.length = 0
    this.words.length = 0
    this.buffers.length = 0
    this.live.length = 0
    this.used.length = 0
    this.viewed.length = 0
    this.freeIds.length = 0
    this.pool.length = 0
    this.head = -1
  }

  /** Starts a new head slab; the old head becomes an ordinary slab (reclaimed if mostly dead). */
  private openHead (): number {
    const old = this.head
    const s = this.freeIds.pop() ?? this.bytes.length
    let bytes = this.pool.pop()
    if (bytes === undefined) {
      bytes = new Uint8Array(SLAB_BYTES)
      this.allocated++
    }
    this.bytes[s] = bytes
    this.buffers[s] = bytes.buffer as ArrayBuffer
    this.words[s] = new Uint32Array(bytes.buffer) // a slab is a whole buffer of its own
    this.live[s] = 0
    this.used[s] = 0
    this.viewed[s] = false
    this.head = s
    if (old >= 0) this.reclaim(old)
    return s
  }

  private reclaim (s: number): void {
    if (this.live[s] === 0) this.drop(s)
    else if (this.live[s] < EVACUATE_BELOW) this.evacuate(s)
  }

  private evacuate (s: number): void {
    const bytes = this.bytes[s]!
    const words = this.words[s]!
    const end = this.used[s]
    const viewed = this.viewed[s]
    // Take the slab out first: appending to the head may open a new head,
    // and this slab must not be reclaimed again in the middle of the walk
    // (nor reused as the new head: it goes to the pool only afterwards).
    this.drop(s, false)
    for (let off = 0; off < end; off += recordBytes(words[(off >>> 2) + 1])) {
      const owner = words[off >>> 2]
      if (owner === DEAD) continue
      const length = words[(off >>> 2) + 1]
      this.onMove(owner, this.store(bytes.subarray(off + HEADER, off + HEADER + length), owner))
    }
    if (!viewed && this.pool.length < POOL_SLABS) this.pool.push(bytes)
  }

  private drop (s: number, reuse = true): void {
    if (reuse && !this.viewed[s] && this.pool.length < POOL_SLABS) this.pool.push(this.bytes[s]!)
    this.bytes[s] = undefined
    this.words[s] = undefined
    this.buffers[s] = undefined
    this.live[s] = 0
    this.used[s] = 0
    this.freeIds.push(s)
  }
}
