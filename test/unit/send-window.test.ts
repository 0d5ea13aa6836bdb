/**
 * SendWindow: how much a sync sender may have out, from the delay of the
 * peer's RECEIVED reports. Times are passed in (ms).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { SendWindow, START_WINDOW_BYTES, MIN_WINDOW_BYTES, MAX_WINDOW_BYTES, QUEUE_TARGET_MS } from '../../src/replication/send-window.ts'
import { InvalidMessageError } from '../../src/errors.ts'

const FRAME = 64 * 1024

test('starts at the starting window; full once that much is out and not reported', () => {
  const w = new SendWindow()
  assert.is(w.window, START_WINDOW_BYTES)
  let t = 0
  while (!w.full) w.wrote(FRAME, t++)
  assert.is(w.outstanding, START_WINDOW_BYTES)
  w.report(FRAME, 10)
  assert.not.ok(w.full)
  assert.is(w.outstanding, START_WINDOW_BYTES - FRAME)
})

test('reports that come back without queuing delay grow the window by what they cover, up to the maximum', () => {
  const w = new SendWindow()
  let sent = 0
  let t = 0
  for (let i = 0; i < 2000; i++) {
    w.wrote(FRAME, t)
    sent += FRAME
    t += 1
    w.report(sent, t) // every frame reported 1 ms after it was written
  }
  assert.is(w.window, MAX_WINDOW_BYTES)
})

test('a report delay above the lowest seen by more than the target shrinks the window by a quarter, not below the minimum', () => {
  const w = new SendWindow()
  w.wrote(FRAME, 0)
  w.report(FRAME, 250) // the link's own delay: a frame takes 250 ms to cross and be applied
  const grown = w.window
  assert.is(grown, START_WINDOW_BYTES + FRAME)
  w.wrote(FRAME, 1000)
  w.report(2 * FRAME, 1000 + 250 + QUEUE_TARGET_MS) // at the target: no queuing yet
  assert.is(w.window, grown + FRAME)
  const before = w.window
  w.wrote(FRAME, 2000)
  w.report(3 * FRAME, 2000 + 250 + QUEUE_TARGET_MS + 1) // queuing
  assert.is(w.window, Math.floor(before * 0.75))
  let sent = 3 * FRAME
  for (let i = 0; i < 50; i++) {
    w.wrote(FRAME, 10_000 + i * 1000)
    sent += FRAME
    w.report(sent, 10_000 + i * 1000 + 900) // a queue that stays
  }
  assert.is(w.window, MIN_WINDOW_BYTES)
})

test('a report inside a frame moves the count but judges no delay; a report that does not move forward, or covers more than was sent, is refused', () => {
  const w = new SendWindow()
  w.wrote(FRAME, 0)
  w.report(100, 5_000)
  assert.is(w.window, START_WINDOW_BYTES, 'no frame completed: no delay judged')
  assert.is(w.outstanding, FRAME - 100)
  assert.throws(() => { w.report(100, 5_001) }, (e: Error) => e instanceof InvalidMessageError && /reported before/.test(e.message))
  assert.throws(() => { w.report(FRAME + 1, 5_001) }, (e: Error) => e instanceof InvalidMessageError)
  w.report(FRAME, 5_002)
  assert.is(w.outstanding, 0)
})

test('many frames: the bookkeeping of frames not reported yet stays correct as it is compacted', () => {
  const w = new SendWindow()
  let sent = 0
  let reported = 0
  for (let i = 0; i < 10_000; i++) {
    w.wrote(1000, i)
    sent += 1000
    if (i % 3 === 2) {
      reported = sent - 1000 // all but the last frame
      w.report(reported, i + 1)
    }
    assert.is(w.outstanding, sent - reported)
  }
})

test.run()
