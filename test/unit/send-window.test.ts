/**
 * SendWindow: how much a sync sender may have out, from the peer's RECEIVED
 * reports. Checked against a simulated link (a bandwidth, a round trip, a
 * FIFO queue), with times passed in (ms).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { SendWindow, START_WINDOW_BYTES, MAX_WINDOW_BYTES } from '../../src/replication/send-window.ts'
import { InvalidMessageError } from '../../src/errors.ts'

interface Run {
  /** Bytes per ms achieved over the whole transfer. */
  throughput: number
  /** Longest a byte written after warm-up (a ping, say) would wait behind what was queued, ms. */
  worstQueueMs: number
  window: SendWindow
}

/** Sends `frames` frames of `frameBytes` over a link of `rate` bytes/ms and `rttMs`, as sync does. */
function simulate (rate: number, rttMs: number, frameBytes: number, frames: number, warmUpMs = 3_000): Run {
  const w = new SendWindow()
  let now = 0
  let linkFreeAt = 0
  let sent = 0
  let written = 0
  let worstQueueMs = 0
  const reports: Array<{ at: number, end: number }> = []
  while (sent < frames || reports.length > 0) {
    while (sent < frames && w.fits(frameBytes)) {
      w.wrote(frameBytes, now)
      written += frameBytes
      sent++
      linkFreeAt = Math.max(now, linkFreeAt) + frameBytes / rate
      reports.push({ at: linkFreeAt + rttMs, end: written })
    }
    if (now > warmUpMs) worstQueueMs = Math.max(worstQueueMs, linkFreeAt - now)
    const next = reports.shift()!
    now = next.at
    w.report(next.end, now)
  }
  return { throughput: written / now, worstQueueMs, window: w }
}

test('a slow link (2 Mbit/s): what queues crosses in well under a second, and the link stays busy', () => {
  const run = simulate(250, 20, 128 * 1024, 200) // 26 MB
  assert.ok(run.worstQueueMs < 1_000, `queue ${run.worstQueueMs.toFixed(0)} ms`)
  assert.ok(run.throughput > 0.9 * 250, `${run.throughput.toFixed(0)} bytes/ms of 250`)
})

test('large frames on a slow link go one at a time: the queue is never more than one frame', () => {
  const frame = 1024 * 1024 + 100 // one 1 MiB value
  const run = simulate(250, 20, frame, 20)
  assert.ok(run.worstQueueMs <= frame / 250 + 1, `queue ${run.worstQueueMs.toFixed(0)} ms, one frame takes ${(frame / 250).toFixed(0)} ms`)
  assert.ok(run.throughput > 0.9 * 250, `${run.throughput.toFixed(0)} bytes/ms of 250`)
})

test('a fast link: the window grows to its maximum and the transfer runs near the link\'s rate', () => {
  const run = simulate(100_000, 1, 128 * 1024, 2_000, 100) // 100 MB/s, 262 MB
  assert.is(run.window.window, MAX_WINDOW_BYTES)
  assert.ok(run.throughput > 0.9 * 100_000, `${run.throughput.toFixed(0)} bytes/ms of 100,000`)
})

test('a long round trip (300 ms at 10 MB/s) still fills the link', () => {
  const run = simulate(10_000, 300, 128 * 1024, 1500) // 197 MB: the window reaches the link's rate within about 5 s
  assert.ok(run.throughput > 0.8 * 10_000, `${run.throughput.toFixed(0)} bytes/ms of 10,000`)
})

test('a long round trip with one large value per frame still grows past one frame out (no lock-in below 500 ms of delay)', () => {
  for (const frame of [256 * 1024, 1024 * 1024 + 100]) {
    const run = simulate(10_000, 300, frame, 1500)
    assert.ok(run.throughput > 0.8 * 10_000, `frames of ${frame} B: ${run.throughput.toFixed(0)} bytes/ms of 10,000`)
  }
})

test('starts at the starting window; a frame fits while the window has room, or when nothing is out', () => {
  const w = new SendWindow()
  assert.is(w.window, START_WINDOW_BYTES)
  assert.ok(w.fits(10 * START_WINDOW_BYTES), 'a frame larger than the window, with nothing out')
  w.wrote(START_WINDOW_BYTES - 10, 0)
  assert.ok(w.fits(10))
  assert.not.ok(w.fits(11))
})

test('a report that does not move forward, or covers more than was sent, is refused', () => {
  const w = new SendWindow()
  w.wrote(1000, 0)
  w.report(100, 10)
  assert.is(w.outstanding, 900)
  assert.throws(() => { w.report(100, 11) }, (e: Error) => e instanceof InvalidMessageError && /reported before/.test(e.message))
  assert.throws(() => { w.report(1001, 11) }, (e: Error) => e instanceof InvalidMessageError)
  w.report(1000, 12)
  assert.is(w.outstanding, 0)
})

test.run()
