/**
 * A binary min-heap of `(time, slot)` pairs in two growable typed arrays:
 * no object per item, so a million pending expiries cost 12 bytes each.
 * Items are never removed from the middle; the store skips stale ones when
 * they surface (lazy deletion) and rebuilds the heap when stale items pile up.
 */
export class ExpiryHeap {
  private times = new Float64Array(1024)
  private slots = new Uint32Array(1024)
  private n = 0

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
    const times = new Float64Array(this.times.length * 2)
    times.set(this.times)
    const slots = new Uint32Array(this.slots.length * 2)
    slots.set(this.slots)
    this.times = times
    this.slots = slots
  }
}
