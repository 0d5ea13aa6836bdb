/**
 * Keeps every gossipsub RPC this node sends inside the frame size its peers
 * accept.
 *
 * Gossipsub answers an IWANT (a peer asking for messages it heard of in an
 * IHAVE but has not received) with every requested message it still holds,
 * in one RPC, and so in one length-prefixed frame. A frame over 4 MiB is
 * refused by the sender's own encoder (and would be by every receiver, whose
 * `maxInboundDataLength` is 4 MiB): gossipsub logs "Message length too long"
 * and drops the whole answer. REPRAM messages are up to 1 MiB (a batch) or
 * about 3 MiB (one record with a value of the largest size), so a peer
 * asking for five batches at once got none of them that way, and, having
 * been promised them, counted a broken promise against this node's score.
 *
 * So an RPC carrying more than one message, when they add up to more than
 * `MESSAGE_FRAME_BYTES`, goes out as several RPCs: the first with the
 * original's subscriptions and control part, each with as many messages as
 * fit (one message larger than that alone). What gossipsub piggybacks on an
 * RPC (pending control and IHAVE gossip, some 200 KiB at most) goes with the
 * first, hence the margin below 4 MiB. An RPC with one message, or small
 * ones, goes out untouched. Order is kept: the parts are handed to the
 * stream one after the other, synchronously.
 */

/** The length-prefix limit of gossipsub frames, sending and receiving. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024
/** Message bytes per RPC when an RPC is split; the rest of a frame is left for control. */
export const MESSAGE_FRAME_BYTES = MAX_FRAME_BYTES - 512 * 1024

interface RpcMessage {
  from?: Uint8Array
  data?: Uint8Array
  seqno?: Uint8Array
  topic: string
  signature?: Uint8Array
  key?: Uint8Array
}

interface Rpc {
  subscriptions: unknown[]
  messages: RpcMessage[]
  control?: unknown
}

type SendRpc = (id: string, rpc: Rpc) => boolean

/** A message's size in an encoded RPC, from above: its fields, their tags and lengths. */
export function messageFrameBytes (m: RpcMessage): number {
  // Six fields of at most a 1-byte tag and a 5-byte length each, the
  // message's own tag and length in the RPC, and the topic's UTF-8 (at most 3 bytes per unit).
  return (m.from?.length ?? 0) + (m.data?.length ?? 0) + (m.seqno?.length ?? 0) + 3 * m.topic.length +
    (m.signature?.length ?? 0) + (m.key?.length ?? 0) + 6 * 6 + 6
}

/**
 * Splits `rpc`'s messages into groups of at most `budget` bytes each (by
 * {@link messageFrameBytes}; a message larger than that alone), in order.
 * One group when they all fit.
 */
export function groupMessages (messages: RpcMessage[], budget = MESSAGE_FRAME_BYTES): RpcMessage[][] {
  const groups: RpcMessage[][] = []
  let group: RpcMessage[] = []
  let bytes = 0
  for (const m of messages) {
    const size = messageFrameBytes(m)
    if (group.length > 0 && bytes + size > budget) {
      groups.push(group)
      group = []
      bytes = 0
    }
    group.push(m)
    bytes += size
  }
  if (group.length > 0) groups.push(group)
  return groups
}

/**
 * Makes `pubsub` (a gossipsub instance) split RPCs as described above.
 * Returns false, changing nothing, when `pubsub` has no `sendRpc` to wrap
 * (a gossipsub version that sends otherwise).
 */
export function splitLargeRpcs (pubsub: object): boolean {
  const target = pubsub as { sendRpc?: SendRpc }
  if (typeof target.sendRpc !== 'function') return false
  const send: SendRpc = target.sendRpc.bind(pubsub)
  target.sendRpc = (id: string, rpc: Rpc): boolean => {
    const messages = rpc.messages
    if (messages === undefined || messages.length < 2) return send(id, rpc)
    const groups = groupMessages(messages)
    if (groups.length === 1) return send(id, rpc)
    // The first part carries the control (whose delivery gossipsub's caller
    // tracks by the result); the other parts only messages.
    const sent = send(id, { ...rpc, messages: groups[0] })
    for (let i = 1; i < groups.length; i++) send(id, { subscriptions: [], messages: groups[i] })
    return sent
  }
  return true
}
