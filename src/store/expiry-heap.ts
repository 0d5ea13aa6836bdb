/**
 * A binary min-heap of `(time, slot)` pairs in two typed-array columns that
 * grow in place (`columns.ts`): no object per item, so a million pending
 * expiries cost 12 bytes each.
 * Items are never removed from the middle; the store skips stale ones when
 * they surface (lazy deletion) and rebuilds the heap when stale items pile up.
 */
import { column, growColumn, grownLength } from './columns.ts'

const INITIAL_ITEMS = 1024

export class ExpiryHeap {
  private times: Float64Array
  private slots: Uint32Array
  private n = 0

  /** `maxItems`: how many items the heap may come to hold (address space is reserved for them, not memory). */
  constructor (maxItems = INITIAL_ITEMS) {
    this.times = column(Float64Array, INITIAL_ITEMS, maxItems)
    this.slots = column(Uint32Array, INITIAL_ITEMS, maxItems)
  }

  /** Bytes of memory held. */
  get byteLength (): number { return this.times.byteLength + this.slots.byteLength }

  get size (): number { return this.n }

  /** Time of the soonest item, or `Infinity` when empty. */
  peekTime (): number { return this.n === 0 ? Infinity : this.times[0] }
  /** Slot of the soonest item; only valid when `size > 0`. */
  peekSlot (): number { return this.slots[0] }

  push (time: number, slot: number): void {
    if (this.n === this.times.length) this.grow()
    let i = this.n++
    const times = this.times
    const slots = this.slots
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (times[parent] <= time) break
      times[i] = times[parent]
      slots[i] = slots[parent]
      i = parent
    }
    times[i] = time
    slots[i] = slot
  }

  /** Removes the soonest item. */
  pop (): void {
    const n = --this.n
    if (n <= 0) { this.n = Math.max(n, 0); return }
    this.siftDown(0, this.times[n], this.slots[n])
  }

  clear (): void { this.n = 0 }

  /** Replaces the content with the given items in O(n). */
  rebuild (items: Iterable<[number, number]>): void {
    this.n = 0
    for (const [time, slot] of items) {
      if (this.n === this.times.length) this.grow()
      this.times[this.n] = time
      this.slots[this.n] = slot
      this.n++
    }
    for (let i = (this.n >> 1) - 1; i >= 0; i--) this.siftDown(i, this.times[i], this.slots[i])
  }

  private siftDown (start: number, time: number, slot: number): void {
    const times = this.times
    const slots = this.slots
    const n = this.n
    let i = start
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      if (child + 1 < n && times[child + 1] < times[child]) child++
      if (times[child] >= time) break
      times[i] = times[child]
      slots[i] = slots[child]
      i = child
    }
    times[i] = time
    slots[i] = slot
  }

  private grow (): void {
    const length = grownLength(this.n + 1)
    this.times = growColumn(Float64Array, this.times, length)
    this.slots = growColumn(Uint32Array, this.slots, length)
  }
}
