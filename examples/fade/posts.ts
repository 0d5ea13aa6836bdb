/**
 * What a fade post is, and the server-side rules it must pass before this
 * node stores it. Pure functions: no I/O, no clock unless given one.
 *
 * A post is stored under `fade/<time-sortable id>` as the JSON text
 * `{"text": ..., "callsign": ...}` with content type `application/json`.
 * Keys sort by creation time (zero-padded ms, then a random suffix that
 * keeps two posts of the same millisecond apart), so `keys({ prefix })`
 * already lists the board oldest first.
 *
 * Posts written by other nodes of the network arrive without passing this
 * node's rules, so readers decode them with {@link parsePost}, which refuses
 * anything malformed or over the limits instead of trusting it.
 */
import { randomBytes } from 'node:crypto'

/** Every post's key starts with this. */
export const POST_PREFIX = 'fade/'
/** Longest message, in Unicode code points (what a person counts as characters). */
export const MAX_TEXT_CHARS = 280
/** Longest callsign, in code points. */
export const MAX_CALLSIGN_CHARS = 24
export const POST_CONTENT_TYPE = 'application/json'

export interface Post {
  text: string
  /** Empty when the author gave none. */
  callsign: string
}

/** A refusal, shaped like the HTTP API's error bodies. */
export interface PostRefusal {
  error: string
  message: string
}

export type PostCheck =
  | { ok: true, post: Post, ttlSeconds?: number }
  | { ok: false, refusal: PostRefusal }

/** Counts code points, not UTF-16 units: an emoji is one character, as on screen. */
export function countChars (text: string): number {
  let n = 0
  for (const _ of text) n++
  return n
}

// Control characters other than tab and newline have no place in a post;
// none at all in a callsign, which is one line.
const TEXT_CONTROL_RE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u2028\u2029]/u
const CALLSIGN_CONTROL_RE = /[\u0000-\u001F\u007F-\u009F\u2028\u2029]/u

function refuse (error: string, message: string): PostCheck {
  return { ok: false, refusal: { error, message } }
}

/**
 * Checks a post as submitted (`{ text, callsign?, ttl? }`, ttl in seconds)
 * and returns it normalised: NFC, line breaks as `\n`, outer whitespace trimmed.
 * The TTL is only checked for shape here; its bounds are the node's to enforce.
 */
export function checkPost (input: unknown): PostCheck {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return refuse('InvalidPostError', 'Expected a JSON object like {"text": "hello", "callsign": "kestrel", "ttl": 3600}.')
  }
  const raw = input as Record<string, unknown>
  if (typeof raw.text !== 'string') return refuse('InvalidPostError', 'The message ("text") must be a string.')
  const text = raw.text.replace(/\r\n?/g, '\n').normalize('NFC').trim()
  if (text === '') return refuse('EmptyTextError', 'Write something first: the message is empty.')
  const textChars = countChars(text)
  if (textChars > MAX_TEXT_CHARS) {
    return refuse('TextTooLongError', `Your message is ${textChars} characters long; the limit is ${MAX_TEXT_CHARS}. Shorten it by ${textChars - MAX_TEXT_CHARS}.`)
  }
  if (TEXT_CONTROL_RE.test(text)) return refuse('InvalidTextError', 'The message contains control characters.')

  let callsign = ''
  if (raw.callsign !== undefined && raw.callsign !== null) {
    if (typeof raw.callsign !== 'string') return refuse('InvalidCallsignError', 'The callsign must be a string.')
    callsign = raw.callsign.normalize('NFC').trim()
    const callsignChars = countChars(callsign)
    if (callsignChars > MAX_CALLSIGN_CHARS) {
      return refuse('CallsignTooLongError', `Your callsign is ${callsignChars} characters long; the limit is ${MAX_CALLSIGN_CHARS}.`)
    }
    if (CALLSIGN_CONTROL_RE.test(callsign)) return refuse('InvalidCallsignError', 'The callsign must be one line without control characters.')
  }

  let ttlSeconds: number | undefined
  if (raw.ttl !== undefined && raw.ttl !== null) {
    if (typeof raw.ttl !== 'number' || !Number.isFinite(raw.ttl) || raw.ttl <= 0) {
      return refuse('InvalidTtlError', 'The lifetime ("ttl") must be a positive number of seconds.')
    }
    ttlSeconds = raw.ttl
  }
  return { ok: true, post: { text, callsign }, ttlSeconds }
}

/** The JSON text stored as a post's value. */
export function encodePost (post: Post): string {
  return JSON.stringify({ text: post.text, callsign: post.callsign })
}

/**
 * Decodes a stored value. Returns `undefined` for anything that is not a
 * post within the limits: other nodes may run other code.
 */
export function parsePost (value: string): Post | undefined {
  let data: unknown
  try {
    data = JSON.parse(value)
  } catch {
    return undefined
  }
  const check = checkPost(data)
  return check.ok ? check.post : undefined
}

/** Width of the zero-padded millisecond part: enough for the year 5138. */
const TIME_DIGITS = 14

/**
 * A new post key, `fade/<14-digit ms>-<8 hex>`. Keys compare as strings in
 * creation order across nodes (to the precision of their clocks).
 */
export function newPostKey (now: number, random: (bytes: number) => Uint8Array = randomBytes): string {
  const suffix = Buffer.from(random(4)).toString('hex')
  return `${POST_PREFIX}${String(Math.floor(now)).padStart(TIME_DIGITS, '0')}-${suffix}`
}

const KEY_RE = /^fade\/\d{14}-[0-9a-f]{8}$/

/** Whether `key` has the shape {@link newPostKey} gives. */
export function isPostKey (key: string): boolean {
  return KEY_RE.test(key)
}
