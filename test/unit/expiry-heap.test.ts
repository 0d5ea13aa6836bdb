/**
 * ExpiryHeap: a min-heap of (time, slot). Whatever the input, popping
 * yields the times in ascending order, each slot with its own time, and
 * `rebuild` gives the same order as pushing one by one.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ExpiryHeap } from '../../src/store/expiry-heap.ts'
import { prng, randInt } from './helpers.ts'

/** Pops everything, as [time, slot] pairs. */
function drain (heap: ExpiryHeap): Array<[number, number]> {
  const out: Array<[number, number]> = []
  while (heap.size > 0) {
    out.push([heap.peekTime(), heap.peekSlot()])
    heap.pop()
  }
  return out
}

/** The pairs a correct heap yields: times ascending; among equal times any order, so compare as sorted pairs. */
function sortedPairs (items: Array<[number, number]>): Array<[number, number]> {
  return [...items].sort((a, b) => a[0] - b[0] || a[1] - b[1])
}

/** Checks the drained sequence: times non-decreasing, and the same multiset of pairs as the input. */
function assertHeapOrder (drained: Array<[number, number]>, input: Array<[number, number]>, label: string): void {
  for (let i = 1; i < drained.length; i++) {
    assert.ok(drained[i - 1][0] <= drained[i][0], `${label}: times out of order at ${i}: ${drained[i - 1][0]} then ${drained[i][0]}`)
  }
  assert.equal(sortedPairs(drained), sortedPairs(input), `${label}: same pairs`)
}

test('an empty heap: size 0, peekTime Infinity, pop is harmless', () => {
  const heap = new ExpiryHeap()
  assert.is(heap.size, 0)
  assert.is(heap.peekTime(), Infinity)
  heap.pop()
  assert.is(heap.size, 0)
  assert.is(heap.peekTime(), Infinity)
  heap.push(5, 1)
  assert.is(heap.size, 1)
  assert.is(heap.peekTime(), 5)
  assert.is(heap.peekSlot(), 1)
})

test('pops in ascending time order, each slot with its own time', () => {
  const heap = new ExpiryHeap()
  const input: Array<[number, number]> = [[30, 3], [10, 1], [20, 2], [50, 5], [40, 4]]
  for (const [t, s] of input) heap.push(t, s)
  assert.equal(drain(heap), [[10, 1], [20, 2], [30, 3], [40, 4], [50, 5]])
})

test('random inputs (with duplicates, epoch-ms magnitudes) drain like a sorted array', () => {
  const rand = prng(42)
  for (const n of [1, 2, 3, 10, 100, 1023, 1024, 1025, 5000]) { // around the initial capacity of 1024
    const heap = new ExpiryHeap()
    const input: Array<[number, number]> = []
    for (let i = 0; i < n; i++) {
      // Few distinct times so duplicates are common.
      const time = 1_700_000_000_000 + randInt(rand, Math.max(2, n >> 2))
      input.push([time, i])
      heap.push(time, i)
    }
    assert.is(heap.size, n)
    assertHeapOrder(drain(heap), input, `n=${n}`)
  }
})

test('interleaved pushes and pops: every pop is the minimum of what is in the heap', () => {
  const rand = prng(9)
  const heap = new ExpiryHeap()
  const model: Array<[number, number]> = []
  for (let step = 0; step < 20_000; step++) {
    if (model.length > 0 && rand() < 0.45) {
      const minTime = Math.min(...model.map(p => p[0]))
      assert.is(heap.peekTime(), minTime, `step ${step}`)
      const slot = heap.peekSlot()
      const idx = model.findIndex(p => p[0] === minTime && p[1] === slot)
      assert.ok(idx >= 0, `step ${step}: slot ${slot} was pushed with time ${minTime}`)
      model.splice(idx, 1)
      heap.pop()
    } else {
      const pair: [number, number] = [randInt(rand, 1000), randInt(rand, 0xffffffff)]
      model.push(pair)
      heap.push(pair[0], pair[1])
    }
    assert.is(heap.size, model.length)
    if (model.length > 200) { // keep the O(n) model check cheap
      assertHeapOrder(drain(heap), model, `step ${step}`)
      model.length = 0
    }
  }
})

test('slots keep their full 32-bit range; times keep fractional and large values', () => {
  const heap = new ExpiryHeap()
  heap.push(Number.MAX_SAFE_INTEGER, 0xffffffff)
  heap.push(0.5, 0)
  heap.push(8.64e15, 7)
  assert.equal(drain(heap), [[0.5, 0], [8.64e15, 7], [Number.MAX_SAFE_INTEGER, 0xffffffff]])
})

test('clear empties the heap and it stays usable', () => {
  const heap = new ExpiryHeap()
  for (let i = 0; i < 3000; i++) heap.push(i, i)
  heap.clear()
  assert.is(heap.size, 0)
  assert.is(heap.peekTime(), Infinity)
  heap.push(2, 20)
  heap.push(1, 10)
  assert.equal(drain(heap), [[1, 10], [2, 20]])
})

test('rebuild replaces the content and orders it like pushes would', () => {
  const rand = prng(1234)
  for (const n of [0, 1, 2, 7, 1024, 1025, 4097]) {
    const heap = new ExpiryHeap()
    // Old content that must be gone afterwards.
    for (let i = 0; i < 50; i++) heap.push(-1 - i, 999_999)
    const items: Array<[number, number]> = Array.from({ length: n }, (_, i) => [randInt(rand, n + 1), i])
    heap.rebuild(items)
    assert.is(heap.size, n)
    assertHeapOrder(drain(heap), items, `rebuild n=${n}`)
  }
})

test('rebuild from a generator, then pushes and pops keep the order', () => {
  const heap = new ExpiryHeap()
  heap.rebuild((function * () {
    for (let i = 100; i > 0; i--) yield [i * 10, i] as [number, number]
  })())
  heap.push(5, 1000)
  heap.push(505, 1001)
  const drained = drain(heap)
  assert.equal(drained[0], [5, 1000])
  assert.equal(drained[1], [10, 1])
  const expected: Array<[number, number]> = [[5, 1000], [505, 1001]]
  for (let i = 1; i <= 100; i++) expected.push([i * 10, i])
  assertHeapOrder(drained, expected, 'generator rebuild')
})

test.run()
