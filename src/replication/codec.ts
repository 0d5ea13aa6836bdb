/**
 * Binary wire format of REPRAM messages (gossip and sync frames).
 *
 * Every message starts with a format byte (`FORMAT` = 1) and a kind byte.
 * Integers are unsigned LEB128 varints (up to 2^53-1, minimally encoded:
 * no padding groups of zeros); strings are a varint
 * byte length and UTF-8 bytes; byte arrays likewise.
 *
 *   RECORDS  (1): count, then `count` records
 *   ACKS     (2): salt (varint), acker peer id, count, then `count` ×
 *                 (origin, wall, counter). The salt (random per message)
 *                 makes a repeated confirmation a new gossip message:
 *                 gossip ids are a hash of the bytes, and gossipsub drops a
 *                 message whose id it saw in the last two minutes.
 *   SUMMARY  (3): bucket count, then bucket count × 8 digest bytes
 *   WANT     (4): count, then `count` × (bucket index, the sender's 8 digest
 *                 bytes of that bucket)
 *   END      (5): nothing
 *   RESEND   (6): salt (varint), then as RECORDS. A re-publication for peers
 *                 that subscribed late; the salt gives it a new message id
 *                 (gossip ids are a hash of the bytes). Decodes as RECORDS.
 *   RECEIVED (7): bytes (varint): how many bytes of RECORDS frames the
 *                 sender of this has taken in so far in a sync round (its
 *                 flow control, see sync.ts)
 *
 *   record: flags (u8: 1 value, 2 ack requested, 4 content type, 8 guard,
 *           16 notice), key, wall, counter, origin, expiresAt,
 *           [guardUntil], [contentType], [value]
 *
 *   A notice (sync only, never with a value) stands for a version its
 *   sender refused to hold (over its own value limits) and keeps a marker
 *   of: a receiver that holds the same version takes its guard, and
 *   nothing else (see MemoryStore.refuse and takeNotice).
 *
 * A record has one encoding (varints minimally encoded, a guard of 0 as no
 * flag), so the same records in the same order make the same bytes, and
 * one gossip message id; RESEND's salt makes new bytes on purpose.
 *
 * A message holds at most `MAX_RECORDS_PER_MESSAGE` records or
 * `MAX_ACKS_PER_MESSAGE` acks. Times are absolute epoch ms: a replica never
 * re-bases a TTL.
 * `decodeMessage` checks every length against the remaining bytes and the
 * configured limits, refuses trailing bytes, invalid UTF-8 and unknown
 * flags, and throws `InvalidMessageError` saying what was wrong. It never
 * reads past the buffer, whatever the bytes. Decoded values are views into
 * the message's bytes; whoever keeps one copies it (the store does).
 */
import { InvalidMessageError } from '../errors.ts'
import { readUtf8, utf8Length, Utf8Cache, writeUtf8 } from '../util/utf8.ts'
import type { StoreRecord } from '../store/memory-store.ts'

export const FORMAT = 1

export const Kind = {
  RECORDS: 1,
  ACKS: 2,
  SUMMARY: 3,
  WANT: 4,
  END: 5,
  RESEND: 6,
  RECEIVED: 7
} as const

const F_VALUE = 1
const F_ACK = 2
const F_CTYPE = 4
const F_GUARD = 8
const F_NOTICE = 16
const KNOWN_FLAGS = F_VALUE | F_ACK | F_CTYPE | F_GUARD | F_NOTICE

/** Longest origin peer id accepted (bytes). */
export const MAX_ORIGIN_BYTES = 128
/**
 * Most records in one message. A writer's records carry its peer id (46
 * bytes or more), so a 1 MiB gossip batch holds at most about 19,000 and a
 * sync frame fewer; the bound keeps what a message of tiny crafted records
 * can cost a node to decode and check (a 4 MiB message could otherwise hold
 * 450,000). Encoders split before it.
 */
export const MAX_RECORDS_PER_MESSAGE = 32_768
/** Most acks in one message (encoders split before it). */
export const MAX_ACKS_PER_MESSAGE = 32_768
/** Longest content type accepted (bytes). */
export const MAX_CONTENT_TYPE_BYTES = 256
/** Largest bucket index a WANT may name (the sync protocol uses fewer). */
const MAX_BUCKET = 65535

/** A record on the wire: a store record, and whether the writer wants acks. */
export interface WireRecord extends StoreRecord {
  ack?: boolean
  /** A notice of a version the sender keeps only a marker of (see the format above). */
  notice?: boolean
}

export interface Ack {
  origin: string
  wall: number
  counter: number
}

export type Message =
  | { kind: typeof Kind.RECORDS, records: WireRecord[] }
  | { kind: typeof Kind.ACKS, acker: string, acks: Ack[] }
  | { kind: typeof Kind.SUMMARY, digests: Uint32Array }
  | { kind: typeof Kind.WANT, buckets: number[], digests: Uint32Array }
  | { kind: typeof Kind.END }
  | { kind: typeof Kind.RECEIVED, bytes: number }

export interface DecodeLimits {
  maxKeyBytes: number
  maxValueBytes: number
}

// --- encoding ----------------------------------------------------------------

function varintSize (n: number): number {
  let size = 1
  while (n >= 0x80) { n = Math.floor(n / 128); size++ }
  return size
}

class Writer {
  readonly buf: Buffer
  pos = 0
  constructor (size: number) { this.buf = Buffer.allocUnsafe(size) }
  u8 (n: number): void { this.buf[this.pos++] = n }
  varint (n: number): void {
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 128) | 0x80
      n = Math.floor(n / 128)
    }
    this.buf[this.pos++] = n
  }
  string (s: string, bytes: number): void {
    this.varint(bytes)
    this.pos += writeUtf8(this.buf, this.pos, s, bytes)
  }
  bytes (b: Uint8Array): void {
    this.varint(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }
  done (): Uint8Array {
    return this.pos === this.buf.length ? this.buf : this.buf.subarray(0, this.pos)
  }
}

/** Encoded size of one record, bytes. */
export function recordSize (r: WireRecord): number {
  const kb = utf8Length(r.key)
  const ob = utf8Length(r.origin)
  let size = 1 + varintSize(kb) + kb + varintSize(r.wall) + varintSize(r.counter) + varintSize(ob) + ob + varintSize(r.expiresAt)
  if (r.guardUntil > 0) size += varintSize(r.guardUntil)
  if (r.contentType !== undefined) {
    const cb = utf8Length(r.contentType)
    size += varintSize(cb) + cb
  }
  if (r.value !== null) size += varintSize(r.value.length) + r.value.length
  return size
}

/**
 * Encodes a batch of records. `totalSize` may pass the sum of their
 * `recordSize`s; `salt` makes a RESEND message.
 */
export function encodeRecords (records: readonly WireRecord[], totalSize?: number, salt?: number): Uint8Array {
  let size = 2 + varintSize(records.length) + (salt === undefined ? 0 : varintSize(salt))
  if (totalSize === undefined) for (const r of records) size += recordSize(r)
  else size += totalSize
  const w = new Writer(size)
  w.u8(FORMAT)
  if (salt === undefined) {
    w.u8(Kind.RECORDS)
  } else {
    w.u8(Kind.RESEND)
    w.varint(salt)
  }
  w.varint(records.length)
  for (const r of records) {
    let flags = 0
    if (r.value !== null) flags |= F_VALUE
    if (r.ack === true) flags |= F_ACK
    if (r.contentType !== undefined) flags |= F_CTYPE
    if (r.guardUntil > 0) flags |= F_GUARD
    if (r.notice === true) {
      if (r.value !== null) throw new RangeError(`a notice carries no value ("${r.key}")`)
      flags |= F_NOTICE
    }
    w.u8(flags)
    w.string(r.key, utf8Length(r.key))
    w.varint(r.wall)
    w.varint(r.counter)
    w.string(r.origin, utf8Length(r.origin))
    w.varint(r.expiresAt)
    if ((flags & F_GUARD) !== 0) w.varint(r.guardUntil)
    if (r.contentType !== undefined) w.string(r.contentType, utf8Length(r.contentType))
    if (r.value !== null) w.bytes(r.value)
  }
  return w.done()
}

export function encodeAcks (acker: string, acks: readonly Ack[], salt = Math.floor(Math.random() * 0xffffffff)): Uint8Array {
  const ab = utf8Length(acker)
  let size = 2 + varintSize(salt) + varintSize(ab) + ab + varintSize(acks.length)
  for (const a of acks) {
    const ob = utf8Length(a.origin)
    size += varintSize(ob) + ob + varintSize(a.wall) + varintSize(a.counter)
  }
  const w = new Writer(size)
  w.u8(FORMAT)
  w.u8(Kind.ACKS)
  w.varint(salt)
  w.string(acker, ab)
  w.varint(acks.length)
  for (const a of acks) {
    w.string(a.origin, utf8Length(a.origin))
    w.varint(a.wall)
    w.varint(a.counter)
  }
  return w.done()
}

export function encodeSummary (digests: Uint32Array): Uint8Array {
  const w = new Writer(2 + varintSize(digests.length / 2) + digests.length * 4)
  w.u8(FORMAT)
  w.u8(Kind.SUMMARY)
  w.varint(digests.length / 2)
  for (let i = 0; i < digests.length; i++) {
    w.buf.writeUInt32LE(digests[i], w.pos)
    w.pos += 4
  }
  return w.done()
}

/** A WANT for `buckets`, with the sender's digests of them (`digests[2 * i]`, `[2 * i + 1]` for `buckets[i]`). */
export function encodeWant (buckets: readonly number[], digests: Uint32Array): Uint8Array {
  if (digests.length !== 2 * buckets.length) throw new RangeError(`${buckets.length} buckets need ${2 * buckets.length} digest words, got ${digests.length}`)
  let size = 2 + varintSize(buckets.length) + 8 * buckets.length
  for (const b of buckets) size += varintSize(b)
  const w = new Writer(size)
  w.u8(FORMAT)
  w.u8(Kind.WANT)
  w.varint(buckets.length)
  for (let i = 0; i < buckets.length; i++) {
    w.varint(buckets[i])
    w.buf.writeUInt32LE(digests[2 * i], w.pos)
    w.buf.writeUInt32LE(digests[2 * i + 1], w.pos + 4)
    w.pos += 8
  }
  return w.done()
}

export function encodeEnd (): Uint8Array {
  return Uint8Array.of(FORMAT, Kind.END)
}

export function encodeReceived (bytes: number): Uint8Array {
  const w = new Writer(2 + varintSize(bytes))
  w.u8(FORMAT)
  w.u8(Kind.RECEIVED)
  w.varint(bytes)
  return w.done()
}

// --- decoding ----------------------------------------------------------------

/**
 * Peer ids and content types recur from message to message: decoded once,
 * then found by their bytes (see `Utf8Cache`). Shared by every node of the
 * process; it holds a few dozen short strings whatever arrives.
 */
const recurring = new Utf8Cache()

class Reader {
  private readonly buf: Uint8Array
  /** The same bytes as a `Buffer`, for decoding text. */
  private readonly text: Buffer
  pos = 0
  constructor (buf: Uint8Array) {
    this.buf = buf
    this.text = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.length)
  }
  get remaining (): number { return this.buf.length - this.pos }
  u8 (what: string): number {
    if (this.pos >= this.buf.length) throw new InvalidMessageError(`truncated message: missing ${what}`)
    return this.buf[this.pos++]
  }
  varint (what: string): number {
    let n = 0
    let scale = 1
    for (let i = 0; ; i++) {
      if (this.pos >= this.buf.length) throw new InvalidMessageError(`truncated message: incomplete ${what}`)
      const b = this.buf[this.pos++]
      n += (b & 0x7f) * scale
      if ((b & 0x80) === 0) {
        // One encoding per number: a last group of zeros would pad it.
        if (b === 0 && i > 0) throw new InvalidMessageError(`${what} is not minimally encoded (a varint padded with zeros)`)
        break
      }
      scale *= 128
      if (i >= 7) throw new InvalidMessageError(`${what} is longer than 8 varint bytes`)
    }
    if (n > Number.MAX_SAFE_INTEGER) throw new InvalidMessageError(`${what} ${n} is larger than 2^53-1`)
    return n
  }
  length (what: string, max: number): number {
    const n = this.varint(`${what} length`)
    if (n > max) throw new InvalidMessageError(`${what} is ${n} bytes, more than the limit of ${max}`)
    if (n > this.remaining) throw new InvalidMessageError(`truncated message: ${what} needs ${n} bytes, ${this.remaining} left`)
    return n
  }
  /** A string; `recurs`: one of those that recur (peer ids, content types). */
  string (what: string, max: number, recurs = false): string {
    const n = this.length(what, max)
    const s = recurs ? recurring.read(this.text, this.pos, this.pos + n) : readUtf8(this.text, this.pos, this.pos + n)
    if (s === undefined) throw new InvalidMessageError(`${what} is not valid UTF-8`)
    this.pos += n
    return s
  }
  bytes (what: string, max: number): Uint8Array {
    const n = this.length(what, max)
    // A view, not a copy: the store copies what it keeps (so a stored value
    // never pins the message buffer), and a copy per record here would only
    // make garbage.
    const out = new Uint8Array(this.buf.buffer, this.buf.byteOffset + this.pos, n) // plain, even from a Buffer
    this.pos += n
    return out
  }
  count (what: string, minItemBytes: number, max = Infinity): number {
    const n = this.varint(what)
    if (n > max) throw new InvalidMessageError(`${what} ${n} is more than the limit of ${max}`)
    if (n * minItemBytes > this.remaining) throw new InvalidMessageError(`${what} ${n} cannot fit in the ${this.remaining} bytes left`)
    return n
  }
}

function decodeRecord (r: Reader, limits: DecodeLimits): WireRecord {
  const flags = r.u8('record flags')
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new InvalidMessageError(`unknown record flags 0x${flags.toString(16)}`)
  const key = r.string('key', limits.maxKeyBytes)
  if (key.length === 0) throw new InvalidMessageError('empty key')
  const wall = r.varint('wall')
  const counter = r.varint('counter')
  if (counter > 0xffffffff) throw new InvalidMessageError(`counter ${counter} is larger than 2^32-1`)
  const origin = r.string('origin', MAX_ORIGIN_BYTES, true)
  if (origin.length === 0) throw new InvalidMessageError('empty origin')
  const expiresAt = r.varint('expiresAt')
  const guardUntil = (flags & F_GUARD) !== 0 ? r.varint('guardUntil') : 0
  // One encoding per record: no guard is written as no flag, never as a flagged 0.
  if ((flags & F_GUARD) !== 0 && guardUntil === 0) throw new InvalidMessageError('guardUntil is flagged but 0 (no guard is written as no flag)')
  const contentType = (flags & F_CTYPE) !== 0 ? r.string('content type', MAX_CONTENT_TYPE_BYTES, true) : undefined
  const value = (flags & F_VALUE) !== 0 ? r.bytes('value', limits.maxValueBytes) : null
  if ((flags & F_NOTICE) !== 0 && value !== null) throw new InvalidMessageError('a notice with a value')
  const rec: WireRecord = { key, value, expiresAt, wall, counter, origin, contentType, guardUntil }
  if ((flags & F_ACK) !== 0) rec.ack = true
  if ((flags & F_NOTICE) !== 0) rec.notice = true
  return rec
}

/** Decodes one message. Throws `InvalidMessageError` on anything malformed. */
export function decodeMessage (data: Uint8Array, limits: DecodeLimits): Message {
  const r = new Reader(data)
  const format = r.u8('format')
  if (format !== FORMAT) throw new InvalidMessageError(`unknown format ${format} (this node speaks ${FORMAT})`)
  const kind = r.u8('kind')
  let msg: Message
  switch (kind) {
    case Kind.RECORDS:
    case Kind.RESEND: {
      if (kind === Kind.RESEND) r.varint('salt')
      const n = r.count('record count', 8, MAX_RECORDS_PER_MESSAGE)
      const records: WireRecord[] = new Array(n)
      for (let i = 0; i < n; i++) records[i] = decodeRecord(r, limits)
      msg = { kind: Kind.RECORDS, records }
      break
    }
    case Kind.ACKS: {
      r.varint('salt')
      const acker = r.string('acker', MAX_ORIGIN_BYTES, true)
      if (acker.length === 0) throw new InvalidMessageError('empty acker')
      const n = r.count('ack count', 3, MAX_ACKS_PER_MESSAGE)
      const acks: Ack[] = new Array(n)
      for (let i = 0; i < n; i++) {
        const origin = r.string('ack origin', MAX_ORIGIN_BYTES, true)
        if (origin.length === 0) throw new InvalidMessageError('empty ack origin')
        const wall = r.varint('ack wall')
        const counter = r.varint('ack counter')
        if (counter > 0xffffffff) throw new InvalidMessageError(`ack counter ${counter} is larger than 2^32-1`)
        acks[i] = { origin, wall, counter }
      }
      msg = { kind, acker, acks }
      break
    }
    case Kind.SUMMARY: {
      const n = r.count('bucket count', 8)
      if (n === 0 || n > 65536) throw new InvalidMessageError(`bucket count ${n} is outside [1, 65536]`)
      const digests = new Uint32Array(n * 2)
      const view = new DataView(data.buffer, data.byteOffset + r.pos, n * 8)
      for (let i = 0; i < n * 2; i++) digests[i] = view.getUint32(i * 4, true)
      r.pos += n * 8
      msg = { kind, digests }
      break
    }
    case Kind.WANT: {
      // Every bucket at most once: no honest WANT names more than there are.
      const n = r.count('bucket count', 9, MAX_BUCKET + 1)
      const buckets: number[] = new Array(n)
      const digests = new Uint32Array(2 * n)
      for (let i = 0; i < n; i++) {
        const b = r.varint('bucket')
        if (b > MAX_BUCKET) throw new InvalidMessageError(`bucket ${b} is out of range`)
        buckets[i] = b
        if (r.pos + 8 > data.length) throw new InvalidMessageError('truncated message: incomplete bucket digest')
        const view = new DataView(data.buffer, data.byteOffset + r.pos, 8)
        digests[2 * i] = view.getUint32(0, true)
        digests[2 * i + 1] = view.getUint32(4, true)
        r.pos += 8
      }
      msg = { kind, buckets, digests }
      break
    }
    case Kind.END:
      msg = { kind }
      break
    case Kind.RECEIVED:
      msg = { kind, bytes: r.varint('bytes') }
      break
    default:
      throw new InvalidMessageError(`unknown message kind ${kind}`)
  }
  if (r.remaining !== 0) throw new InvalidMessageError(`${r.remaining} trailing bytes after the message`)
  return msg
}
