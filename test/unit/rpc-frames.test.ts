/**
 * Splitting gossipsub RPCs to fit a peer's frame: the size bound against
 * gossipsub's own encoder, and the grouping. The wrapped `sendRpc` on a live
 * node is tested in test/integration/gossip-limits.test.ts.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RPC } from '@libp2p/gossipsub/message'
import { groupMessages, messageFrameBytes, splitLargeRpcs, MAX_FRAME_BYTES, MESSAGE_FRAME_BYTES } from '../../src/replication/rpc-frames.ts'

const message = (bytes: number, topic = 'repram/default/entries/1'): { topic: string, data: Uint8Array } => ({ topic, data: new Uint8Array(bytes) })

test('messageFrameBytes is never below what the message adds to an encoded RPC', () => {
  for (const bytes of [0, 1, 127, 128, 16_383, 16_384, 1024 * 1024, 3 * 1024 * 1024 + 5000]) {
    for (const topic of ['t', 'repram/default/entries/1', 'é'.repeat(40)]) {
      const m = { ...message(bytes, topic), from: new Uint8Array(38), seqno: new Uint8Array(8) }
      const encoded = RPC.encode({ subscriptions: [], messages: [m] }).length
      assert.ok(messageFrameBytes(m) >= encoded, `${bytes} B in topic ${topic}: bound ${messageFrameBytes(m)}, encoded ${encoded}`)
      assert.ok(messageFrameBytes(m) - encoded <= 48 + 2 * topic.length, 'and not far above it (topics here are 1 or 2 UTF-8 bytes per unit)')
    }
  }
})

test('groupMessages keeps the order, fills groups up to the budget, and puts a message larger than it alone', () => {
  const mib = 1024 * 1024
  const sizes = [900 * 1024, 900 * 1024, 900 * 1024, 900 * 1024, 900 * 1024, 3 * mib, 10, 10]
  const messages = sizes.map(n => message(n))
  const groups = groupMessages(messages)
  assert.equal(groups.flat(), messages, 'every message once, in order')
  assert.equal(groups.map(g => g.length), [3, 2, 3])
  for (const g of groups) {
    const encoded = RPC.encode({ subscriptions: [], messages: g }).length
    assert.ok(encoded <= MESSAGE_FRAME_BYTES, `a group of ${g.length} encodes to ${encoded} B`)
  }
  assert.equal(groupMessages([message(5 * mib), message(1)]).map(g => g.length), [1, 1], 'an oversized message alone, and the next one after it')
  assert.equal(groupMessages([message(1), message(2)]).length, 1)
  assert.equal(groupMessages([]), [])
  assert.ok(MESSAGE_FRAME_BYTES < MAX_FRAME_BYTES)
})

test('splitLargeRpcs: several parts for large messages, the control part with the first; small RPCs untouched', () => {
  const calls: Array<{ id: string, rpc: { subscriptions: unknown[], messages: Array<{ data?: Uint8Array }>, control?: unknown } }> = []
  const fake = { sendRpc (id: string, rpc: any): boolean { calls.push({ id, rpc }); return calls.length !== 2 } }
  assert.ok(splitLargeRpcs(fake))
  const control = { ihave: [], iwant: [{ messageIDs: [new Uint8Array(32)] }], graft: [], prune: [], idontwant: [] }
  const small = { subscriptions: [], messages: [message(10), message(10)], control }
  assert.ok(fake.sendRpc('p', small))
  assert.is(calls.length, 1)
  assert.is(calls[0].rpc, small, 'passed on as it was')

  calls.length = 0
  const big = [message(2 * 1024 * 1024), message(1024 * 1024), message(2 * 1024 * 1024), message(1024)]
  assert.ok(fake.sendRpc('p', { subscriptions: [], messages: big, control }), 'the result is the first part\'s (the second part "failed" here)')
  assert.is(calls.length, 2)
  assert.equal(calls.map(c => c.id), ['p', 'p'])
  assert.equal(calls.map(c => c.rpc.messages.length), [2, 2])
  assert.equal(calls.flatMap(c => c.rpc.messages), big)
  assert.is(calls[0].rpc.control, control, 'control goes with the first part')
  assert.is(calls[1].rpc.control, undefined)

  assert.not.ok(splitLargeRpcs({}), 'nothing to wrap')
})

test.run()
