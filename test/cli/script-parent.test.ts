/**
 * Stopping with the package script that started a command: the parent
 * watch with an injected parent pid (the real case, `npm start` stopped with
 * SIGTERM, is in examples.test.ts).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { inPackageScript, watchScriptParent } from '../../src/cli/script-parent.ts'
import { SCRIPT_ENDED, describeInterrupt, onInterrupt } from '../../src/cli/signals.ts'
import { waitFor } from '../helpers/wait.ts'

const SCRIPT = { npm_lifecycle_event: 'start' }

/** A parent pid that the test changes, counting how often it is read. */
function fakeParent (pid = 100): { ppid: () => number, set: (pid: number) => void, reads: () => number } {
  let current = pid
  let reads = 0
  return { ppid: () => { reads++; return current }, set: (p) => { current = p }, reads: () => reads }
}

/**
 * Resolves after several periods of a 2 ms watch, told by a second watcher
 * (no sleeping): by then a first watcher on that period would have read its
 * parent again had it kept watching.
 */
async function severalPeriods (): Promise<void> {
  const clock = fakeParent()
  let fired = false
  watchScriptParent(() => { fired = true }, { env: SCRIPT, ppid: clock.ppid, intervalMs: 2 })
  await waitFor(() => clock.reads() >= 3, { message: 'the clock watcher running' })
  clock.set(2)
  await waitFor(() => fired, { message: 'the clock watcher' })
}

test('only a package script is watched, and not on Windows', () => {
  assert.ok(inPackageScript(SCRIPT))
  assert.not.ok(inPackageScript({}))
  const parent = fakeParent()
  let gone = 0
  const stop = watchScriptParent(() => { gone++ }, { env: {}, ppid: parent.ppid, intervalMs: 1 })
  stop()
  assert.is(parent.reads(), 0, 'outside a script the parent is not even looked at')
  watchScriptParent(() => { gone++ }, { env: SCRIPT, platform: 'win32', ppid: parent.ppid, intervalMs: 1 })()
  assert.is(parent.reads(), 0, 'nor on Windows')
  assert.is(gone, 0)
})

test('the parent exiting (its pid changes) calls onGone once, and the watch ends', async () => {
  const parent = fakeParent()
  let gone = 0
  watchScriptParent(() => { gone++ }, { env: SCRIPT, ppid: parent.ppid, intervalMs: 2 })
  await waitFor(() => parent.reads() >= 3, { message: 'a few checks' })
  assert.is(gone, 0, 'same parent: nothing happens')
  parent.set(1)
  await waitFor(() => gone > 0, { message: 'onGone' })
  const readsAtGone = parent.reads()
  await severalPeriods()
  assert.is(gone, 1)
  assert.is(parent.reads(), readsAtGone, 'no check after onGone')
})

test('the returned function stops the watch', async () => {
  const parent = fakeParent()
  let gone = 0
  const stop = watchScriptParent(() => { gone++ }, { env: SCRIPT, ppid: parent.ppid, intervalMs: 2 })
  await waitFor(() => parent.reads() >= 2, { message: 'a check' })
  stop()
  const reads = parent.reads()
  parent.set(1)
  await severalPeriods()
  assert.is(gone, 0)
  assert.is(parent.reads(), reads)
})

test('onInterrupt: the script ending aborts with SCRIPT_ENDED, described for the stop line', async () => {
  const parent = fakeParent()
  const interrupt = onInterrupt({ env: SCRIPT, ppid: parent.ppid, intervalMs: 2 })
  try {
    assert.not.ok(interrupt.signal.aborted)
    parent.set(1)
    await waitFor(() => interrupt.signal.aborted, { message: 'the abort' })
    assert.is(interrupt.signal.reason, SCRIPT_ENDED)
    assert.is(describeInterrupt(interrupt.signal.reason), 'the npm script that started it ended')
    assert.is(describeInterrupt('SIGTERM'), 'SIGTERM received')
  } finally {
    interrupt.dispose()
  }
})

test.run()
