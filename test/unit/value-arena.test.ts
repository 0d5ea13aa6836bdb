/** ValueArena against a Map model: values of every size class, cell reuse, copies out. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MAX_ARENA_VALUE, ValueArena } from '../../src/store/value-arena.ts'
import { prng } from './helpers.ts'

test('random store / read / release agree with a model; released cells are reused', () => {
  const rand = prng(11)
  const arena = new ValueArena()
  const model = new Map<number, Uint8Array>()
  let maxHandle = 0
  for (let step = 0; step < 30_000; step++) {
    if (model.size > 0 && rand() < 0.45) {
      const handles = [...model.keys()]
      const h = handles[Math.floor(rand() * handles.length)]
      assert.equal(arena.read(h, model.get(h)!.length), model.get(h))
      arena.release(h)
      model.delete(h)
    } else {
      const len = 1 + Math.floor(rand() * MAX_ARENA_VALUE)
      const value = Uint8Array.from({ length: len }, () => Math.floor(rand() * 256))
      const h = arena.store(value)
      assert.not.ok(model.has(h), 'a live handle is never handed out twice')
      model.set(h, value)
      maxHandle = Math.max(maxHandle, h)
    }
  }
  for (const [h, value] of model) assert.equal(arena.read(h, value.length), value)
})

test('read() returns a copy: reusing the cell later does not change it', () => {
  const arena = new ValueArena()
  const h = arena.store(Uint8Array.of(1, 2, 3))
  const out = arena.read(h, 3)
  arena.release(h)
  const h2 = arena.store(Uint8Array.of(9, 9, 9))
  assert.is(h2, h, 'the cell was reused')
  assert.equal(out, Uint8Array.of(1, 2, 3))
  out[0] = 42
  assert.equal(arena.read(h2, 3), Uint8Array.of(9, 9, 9))
})

test('UintStack: LIFO across chunk boundaries; -1 when empty', async () => {
  const { UintStack } = await import('../../src/store/uint-stack.ts')
  const stack = new UintStack()
  assert.is(stack.pop(), -1)
  for (let i = 0; i < 200_000; i++) stack.push(i)
  assert.is(stack.size, 200_000)
  for (let i = 199_999; i >= 0; i--) if (stack.pop() !== i) assert.unreachable(`pop ${i}`)
  assert.is(stack.pop(), -1)
  stack.push(7)
  stack.clear()
  assert.is(stack.size, 0)
})

test.run()
