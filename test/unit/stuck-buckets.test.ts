/**
 * StuckBuckets: a bucket whose exchange with a peer left both digests as
 * they were is left out of the next rounds with that peer, 1, 2, 4, ... up
 * to MAX_SKIPS rounds and MAX_SKIP_MS between tries; any change of either
 * digest ends that at once. Times passed in (ms).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MAX_SKIPS, MAX_SKIP_MS, StuckBuckets } from '../../src/replication/stuck-buckets.ts'

const MINE = Uint32Array.of(1, 2)
const THEIRS = Uint32Array.of(3, 4)

/** Simulates `rounds` rounds of bucket 7 with digests that never change: which were exchanged. */
function run (s: StuckBuckets, rounds: number, mine = MINE, theirs = THEIRS, msPerRound = 1_000, from = 0): boolean[] {
  const exchanged: boolean[] = []
  for (let r = 0; r < rounds; r++) {
    const now = from + r * msPerRound
    const skip = s.skip('p', 7, mine, 0, theirs, 0, now)
    if (!skip) s.exchanged('p', [7], mine, theirs, now)
    exchanged.push(!skip)
  }
  return exchanged
}

test('an exchange that changed nothing: left out of the next round, then of 2, 4, ... rounds between tries', () => {
  const tries = run(new StuckBuckets(), 32).flatMap((x, i) => x ? [i] : [])
  assert.equal(tries, [0, 2, 5, 10, 19], 'gaps of 1, 2, 4 and 8 skipped rounds')
})

test('the gaps stop growing at MAX_SKIPS rounds', () => {
  const tries = run(new StuckBuckets(), 400).flatMap((x, i) => x ? [i] : [])
  const gaps = tries.slice(1).map((t, i) => t - tries[i] - 1)
  assert.is(Math.max(...gaps), MAX_SKIPS)
  assert.equal(gaps.slice(-3), [MAX_SKIPS, MAX_SKIPS, MAX_SKIPS])
})

test('a bucket is tried again after MAX_SKIP_MS, however few rounds were left out', () => {
  const s = new StuckBuckets()
  run(s, 200) // skipping up to MAX_SKIPS rounds now
  const last = 199 * 1_000
  assert.ok(s.skip('p', 7, MINE, 0, THEIRS, 0, last + 1), 'still skipped a moment later')
  assert.not.ok(s.skip('p', 7, MINE, 0, THEIRS, 0, last + MAX_SKIP_MS + 1_000), 'tried again once the time is up')
})

test('a change of either side\'s digest is exchanged at once, and starts over', () => {
  for (const [mine, theirs] of [[Uint32Array.of(1, 9), THEIRS], [MINE, Uint32Array.of(9, 4)]]) {
    const s = new StuckBuckets()
    run(s, 9) // tries at rounds 0, 2 and 5; 6-8 skipped, the fourth of the gap to come
    assert.ok(s.skip('p', 7, MINE, 0, THEIRS, 0, 10_000), 'the old pair is being skipped')
    assert.not.ok(s.skip('p', 7, mine, 0, theirs, 0, 10_000), 'a new pair is not')
    s.exchanged('p', [7], mine, theirs, 10_000)
    assert.ok(s.skip('p', 7, mine, 0, theirs, 0, 11_000), 'the new pair, once futile, is skipped once')
    assert.not.ok(s.skip('p', 7, mine, 0, theirs, 0, 12_000), 'and then tried again (the count started over)')
  }
})

test('notes are per peer and per bucket; a settled bucket is forgotten', () => {
  const s = new StuckBuckets()
  s.exchanged('p', [7, 8], Uint32Array.of(1, 2, 5, 6), Uint32Array.of(3, 4, 7, 8), 0)
  assert.ok(s.skip('p', 8, Uint32Array.of(5, 6), 0, Uint32Array.of(7, 8), 0, 1))
  assert.not.ok(s.skip('q', 7, MINE, 0, THEIRS, 0, 1), 'another peer')
  assert.not.ok(s.skip('p', 9, MINE, 0, THEIRS, 0, 1), 'another bucket')
  // Digests at an offset, as the responder passes the store's array.
  const mineAll = new Uint32Array(20)
  const theirsAll = new Uint32Array(20)
  mineAll.set(MINE, 14)
  theirsAll.set(THEIRS, 14)
  assert.ok(s.skip('p', 7, mineAll, 14, theirsAll, 14, 1))
  s.settled('p', 7)
  assert.not.ok(s.skip('p', 7, MINE, 0, THEIRS, 0, 2), 'forgotten once equal')
  s.settled('p', 8)
  assert.is(s.size, 0, 'a peer without notes is dropped')
  s.settled('nobody', 1)
})

test('settledUnless: an initiator forgets a bucket the responder did not want once its own digest of it changed', () => {
  const s = new StuckBuckets()
  s.exchanged('p', [7, 8, 9], Uint32Array.of(1, 2, 1, 2, 1, 2), Uint32Array.of(3, 4, 3, 4, 3, 4), 0)
  const wanted = new Uint8Array(1024)
  wanted[9] = 1
  const mine = new Uint32Array(2048)
  mine.set([1, 2], 2 * 7) // unchanged: the responder may have left it out
  mine.set([5, 6], 2 * 8) // changed and not wanted: equal now
  mine.set([5, 6], 2 * 9) // changed but wanted: still under way
  s.settledUnless('p', wanted, mine)
  assert.ok(s.skip('p', 7, MINE, 0, THEIRS, 0, 1), 'bucket 7 kept')
  assert.not.ok(s.skip('p', 8, MINE, 0, THEIRS, 0, 1), 'bucket 8 forgotten')
  assert.ok(s.skip('p', 9, MINE, 0, THEIRS, 0, 1), 'bucket 9 kept')
  s.settledUnless('p', new Uint8Array(1024), new Uint32Array(2048))
  assert.is(s.size, 0, 'a peer without notes is dropped')
  s.settledUnless('nobody', wanted, mine)
})

test('at most maxPeers peers are remembered; the least recently used goes first', () => {
  const s = new StuckBuckets(2)
  s.exchanged('a', [7], MINE, THEIRS, 0)
  s.exchanged('b', [7], MINE, THEIRS, 0)
  s.exchanged('a', [8], MINE, THEIRS, 0) // a used again
  s.exchanged('c', [7], MINE, THEIRS, 0)
  assert.is(s.size, 2)
  assert.not.ok(s.skip('b', 7, MINE, 0, THEIRS, 0, 1), 'b forgotten')
  assert.ok(s.skip('a', 7, MINE, 0, THEIRS, 0, 1))
  assert.ok(s.skip('c', 7, MINE, 0, THEIRS, 0, 1))
  s.exchanged('x', [], MINE, THEIRS, 0)
  assert.is(s.size, 2, 'an empty exchange notes nothing')
  s.clear()
  assert.is(s.size, 0)
})

test.run()
