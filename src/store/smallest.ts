/**
 * The `limit` smallest of a stream of strings, in code-unit order (the
 * order of `Array.prototype.sort`), without sorting the whole stream: a
 * bounded max-heap, O(n log limit) time and O(limit) memory. A page of keys
 * out of a million then costs one pass over them, not a sort of all.
 */
export class SmallestStrings {
  private readonly limit: number
  /** Max-heap: `heap[0]` is the largest kept. */
  private readonly heap: string[] = []

  constructor (limit: number) {
    this.limit = limit
  }

  offer (s: string): void {
    const heap = this.heap
    if (heap.length < this.limit) {
      let i = heap.length
      heap.push(s)
      while (i > 0) {
        const parent = (i - 1) >> 1
        if (heap[parent] >= s) break
        heap[i] = heap[parent]
        i = parent
      }
      heap[i] = s
    } else if (this.limit > 0 && s < heap[0]) {
      const n = heap.length
      let i = 0
      for (;;) {
        let child = 2 * i + 1
        if (child >= n) break
        if (child + 1 < n && heap[child + 1] > heap[child]) child++
        if (heap[child] <= s) break
        heap[i] = heap[child]
        i = child
      }
      heap[i] = s
    }
  }

  /** What was kept, sorted. */
  sorted (): string[] {
    return this.heap.slice().sort()
  }
}
