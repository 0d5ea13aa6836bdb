/**
 * Tracks deliveries of numbered messages: `expect(seq, count)` resolves with
 * the time of the `count`-th arrival of `seq`, i.e. when the last receiver
 * got it. Arrivals of a number nobody waits for (any more) are ignored.
 */
export class Arrivals {
  private readonly waiting = new Map<number, { left: number, resolve: (at: number) => void, timer: NodeJS.Timeout }>()

  expect (seq: number, count: number, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const left = this.waiting.get(seq)?.left ?? count
        this.waiting.delete(seq)
        reject(new Error(`message ${seq} reached only ${count - left} of ${count} receivers within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiting.set(seq, { left: count, resolve, timer })
    })
  }

  arrive (seq: number, at: number): void {
    const w = this.waiting.get(seq)
    if (w === undefined) return
    if (--w.left === 0) {
      clearTimeout(w.timer)
      this.waiting.delete(seq)
      w.resolve(at)
    }
  }
}
