/** ValueLog against a model: views never change, dead space is reclaimed by slab, evacuation keeps every live value. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MAX_LOG_VALUE, ValueLog } from '../../src/store/value-log.ts'
import { prng } from './helpers.ts'

const SLAB = 64 * 1024
const recordBytes = (n: number): number => 8 + Math.ceil(n / 8) * 8

/** A log whose owners are indices into `handles` (as the store's slots are). */
function makeLog (): { log: ValueLog, handles: Map<number, number>, moves: { count: number } } {
  const handles = new Map<number, number>()
  const moves = { count: 0 }
  const log = new ValueLog((owner, handle) => {
    assert.ok(handles.has(owner), `moved a record of owner ${owner}, which holds none`)
    handles.set(owner, handle)
    moves.count++
  })
  return { log, handles, moves }
}

test('random store / read / release agree with a model; views handed out never change; dead space stays bounded', () => {
  const rand = prng(11)
  const { log, handles, moves } = makeLog()
  const values = new Map<number, Uint8Array>()
  /** Views read earlier, with the bytes they showed then. */
  const views: Array<[Uint8Array, Uint8Array]> = []
  let nextOwner = 0
  for (let step = 0; step < 40_000; step++) {
    // Phases of mostly writes and mostly deletes, so slabs empty out unevenly.
    const deleting = Math.floor(step / 5000) % 2 === 1 ? 0.75 : 0.3
    if (values.size > 0 && rand() < deleting) {
      const owners = [...values.keys()]
      const owner = owners[Math.floor(rand() * owners.length)]
      // Read only some values: slabs never read are reused once empty.
      if (rand() < 0.1) {
        const view = log.read(handles.get(owner)!, values.get(owner)!.length)
        assert.equal(view, values.get(owner))
        views.push([view, view.slice()])
      }
      log.release(handles.get(owner)!)
      handles.delete(owner)
      values.delete(owner)
    } else {
      const len = 1 + Math.floor(rand() * (rand() < 0.8 ? 100 : MAX_LOG_VALUE))
      const value = Uint8Array.from({ length: len }, () => Math.floor(rand() * 256))
      const owner = nextOwner++
      handles.set(owner, -1)
      const h = log.store(value, owner)
      assert.ok([...handles.entries()].every(([o, other]) => o === owner || other !== h), 'a live handle is never handed out twice')
      handles.set(owner, h)
      values.set(owner, value)
    }
    if (step % 1000 === 0) {
      let live = 0
      for (const v of values.values()) live += recordBytes(v.length)
      assert.is(log.liveBytes, live)
      // Every slab but the head holds at least a quarter of live bytes.
      assert.ok(log.slabCount <= Math.ceil(live / (SLAB / 4)) + 1, `${log.slabCount} slabs for ${live} live bytes`)
    }
  }
  assert.ok(moves.count > 0, 'some slabs were evacuated')
  for (const [owner, value] of values) assert.equal(log.read(handles.get(owner)!, value.length), value)
  for (const [view, bytes] of views) assert.equal(view, bytes, 'a view read earlier still shows the same bytes')
})

test('a slab mostly emptied is evacuated: its live values move to the head, old views stay intact', () => {
  const { log, handles } = makeLog()
  const value = (i: number): Uint8Array => new Uint8Array(56).fill(i & 255)
  // 64-byte records: 1024 per slab. Fill three slabs and start a fourth.
  for (let i = 0; i < 3 * 1024 + 1; i++) { handles.set(i, -1); handles.set(i, log.store(value(i), i)) }
  assert.is(log.slabCount, 4)
  const keep = 5
  const before = handles.get(keep)!
  const oldView = log.read(before, 56)
  // Release all of the first slab but one record: it drops below a quarter and is evacuated.
  for (let i = 0; i < 1024; i++) {
    if (i === keep) continue
    log.release(handles.get(i)!)
    handles.delete(i)
  }
  assert.is.not(handles.get(keep), before, 'the survivor moved')
  assert.equal(log.read(handles.get(keep)!, 56), value(keep))
  assert.equal(oldView, value(keep), 'the old view is intact')
  assert.is(log.slabCount, 3, 'the emptied slab is gone')
  // Release the second slab whole: dropped without moving anything.
  const moved = new Map(handles)
  for (let i = 1024; i < 2048; i++) { log.release(handles.get(i)!); handles.delete(i) }
  assert.is(log.slabCount, 2)
  for (const [o, h] of handles) assert.is(h, moved.get(o), 'nothing moved')
  for (const [o, h] of handles) assert.equal(log.read(h, 56), value(o))
})

test('empty slabs nobody read from are reused; slabs with views never are', () => {
  const { log, handles } = makeLog()
  const fill = (round: number, read: boolean): Array<[Uint8Array, number]> => {
    const views: Array<[Uint8Array, number]> = []
    // 10 slabs' worth of 64-byte records (1024 per slab), then all released.
    for (let i = 0; i < 10 * 1024; i++) {
      handles.set(i, -1)
      const h = log.store(new Uint8Array(56).fill((round + i) & 255), i)
      handles.set(i, h)
      if (read && i % 1024 === 0) views.push([log.read(h, 56), (round + i) & 255])
    }
    for (let i = 0; i < 10 * 1024; i++) { log.release(handles.get(i)!); handles.delete(i) }
    return views
  }
  for (let round = 0; round < 10; round++) fill(round, false)
  assert.ok(log.slabsAllocated <= 12, `${log.slabsAllocated} slabs allocated for 10 rounds of 10 slabs never read`)
  const before = log.slabsAllocated
  const views: Array<[Uint8Array, number]> = []
  for (let round = 0; round < 5; round++) views.push(...fill(round, true))
  assert.ok(log.slabsAllocated - before >= 40, 'slabs that were read from are not reused')
  for (const [view, byte] of views) assert.ok(view.every(b => b === byte), 'every view still shows its bytes')
})

test('a released record is never overwritten: its view keeps its bytes after the space is reused', () => {
  const { log, handles } = makeLog()
  handles.set(0, -1)
  const h = log.store(Uint8Array.of(1, 2, 3), 0)
  const out = log.read(h, 3)
  log.release(h)
  for (let i = 1; i < 5000; i++) { handles.set(i, -1); handles.set(i, log.store(Uint8Array.of(9, 9, 9), i)) }
  assert.equal(out, Uint8Array.of(1, 2, 3))
  log.clear()
  assert.is(log.slabCount, 0)
  assert.equal(out, Uint8Array.of(1, 2, 3), 'clear() leaves views alone')
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
