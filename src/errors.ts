/**
 * Named errors. Every error thrown by the public API is an instance of
 * {@link RepramError} with a stable `name` (and `code`), so callers can
 * branch on `err.name === 'InvalidKeyError'` without importing classes, and
 * adapters (HTTP, CLI) can map names to status codes in one table.
 *
 * Messages say what was wrong and with which value; they never include
 * stored values.
 */
import type { PutReceipt } from './types.ts'

export class RepramError extends Error {
  /** Stable machine-readable code, e.g. `ERR_INVALID_KEY`. */
  readonly code: string

  constructor (message: string, code: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'RepramError'
    this.code = code
  }
}

/** The key is not a string, empty, longer than `maxKeyBytes` in UTF-8, not valid Unicode, or holds a control character. */
export class InvalidKeyError extends RepramError {
  static readonly code = 'ERR_INVALID_KEY'
  constructor (message: string) {
    super(message, InvalidKeyError.code)
    this.name = 'InvalidKeyError'
  }
}

/** The TTL is not a finite integer number of milliseconds within `[minTtl, maxTtl]`. */
export class InvalidTtlError extends RepramError {
  static readonly code = 'ERR_INVALID_TTL'
  constructor (message: string) {
    super(message, InvalidTtlError.code)
    this.name = 'InvalidTtlError'
  }
}

/** The value is larger than `maxValueBytes`. */
export class ValueTooLargeError extends RepramError {
  static readonly code = 'ERR_VALUE_TOO_LARGE'
  readonly size: number
  readonly limit: number
  /** `limit`'s name: `'maxValueBytes'` (the node's), or `'maxBodyBytes'` (the HTTP adapter's). */
  constructor (size: number, limit: number, limitName = 'maxValueBytes') {
    super(`value is ${size} bytes, larger than ${limitName} (${limit})`, ValueTooLargeError.code)
    this.name = 'ValueTooLargeError'
    this.size = size
    this.limit = limit
  }
}

/** A value of a type the store cannot hold (not a string or Uint8Array). */
export class InvalidValueError extends RepramError {
  static readonly code = 'ERR_INVALID_VALUE'
  constructor (message: string) {
    super(message, InvalidValueError.code)
    this.name = 'InvalidValueError'
  }
}

/** The store holds `maxEntries` entries or `maxBytes` bytes; nothing was changed. */
export class StoreFullError extends RepramError {
  static readonly code = 'ERR_STORE_FULL'
  constructor (message: string) {
    super(message, StoreFullError.code)
    this.name = 'StoreFullError'
  }
}

/** An option passed to `new RepramNode()` (or another factory) is invalid. */
export class InvalidConfigError extends RepramError {
  static readonly code = 'ERR_INVALID_CONFIG'
  /** The option's name, e.g. `maxTtl` or `bootstrap[2]`. */
  readonly field: string
  constructor (field: string, message: string) {
    super(`invalid option ${field}: ${message}`, InvalidConfigError.code)
    this.name = 'InvalidConfigError'
    this.field = field
  }
}

/** A network operation was called before `start()` or after `stop()`. */
export class NotStartedError extends RepramError {
  static readonly code = 'ERR_NOT_STARTED'
  constructor (message = 'the node is not started; call start() first') {
    super(message, NotStartedError.code)
    this.name = 'NotStartedError'
  }
}

/**
 * A put asked for `quorum` confirmations and fewer arrived within `timeout`,
 * or before the node stopped (`stopped`). The entry IS stored locally (and,
 * unless the node stopped, keeps replicating); `receipt` says how far it got.
 */
export class QuorumNotReachedError extends RepramError {
  static readonly code = 'ERR_QUORUM_NOT_REACHED'
  readonly receipt: PutReceipt
  readonly quorum: number
  /** Whether the wait ended because the node stopped, not because the timeout ran out. */
  readonly stopped: boolean
  constructor (quorum: number, receipt: PutReceipt, stopped = false) {
    super(stopped
      ? `the node stopped while the write of "${receipt.key}" waited for confirmations (${receipt.confirmations} of ${quorum}); it stays stored locally`
      : `write of "${receipt.key}" got ${receipt.confirmations} of ${quorum} confirmations in time; it is stored locally and still replicating`, QuorumNotReachedError.code)
    this.name = 'QuorumNotReachedError'
    this.quorum = quorum
    this.receipt = receipt
    this.stopped = stopped
  }
}

/** The operation was aborted through its `signal`. */
export class AbortError extends RepramError {
  static readonly code = 'ABORT_ERR'
  constructor (message = 'the operation was aborted') {
    super(message, AbortError.code)
    this.name = 'AbortError'
  }
}

/** Bytes received from the network that are not a valid REPRAM message. */
export class InvalidMessageError extends RepramError {
  static readonly code = 'ERR_INVALID_MESSAGE'
  constructor (message: string) {
    super(message, InvalidMessageError.code)
    this.name = 'InvalidMessageError'
  }
}

/** Throws {@link AbortError} when `signal` is aborted, and {@link InvalidArgumentError} when it is not an `AbortSignal`. */
export function throwIfAborted (signal?: AbortSignal): void {
  if (signal === undefined) return
  const s = signal as Partial<AbortSignal> | null
  // Checked here, before a call registers anything on it: a listener that
  // cannot be removed later would throw from a timer, out of the caller's reach.
  if (typeof s?.aborted !== 'boolean' || typeof s.addEventListener !== 'function' || typeof s.removeEventListener !== 'function') {
    throw new InvalidArgumentError(`signal must be an AbortSignal, got ${s === null ? 'null' : typeof s}`)
  }
  if (s.aborted) throw new AbortError()
}

/** An option of a call (e.g. `quorum`, `timeout`) is not valid. */
export class InvalidArgumentError extends RepramError {
  static readonly code = 'ERR_INVALID_ARGUMENT'
  constructor (message: string) {
    super(message, InvalidArgumentError.code)
    this.name = 'InvalidArgumentError'
  }
}

/**
 * `start()` could not listen on the configured addresses (a port in use,
 * an address this host does not have). Nothing is left running; fix the
 * cause and call `start()` again.
 */
export class ListenError extends RepramError {
  static readonly code = 'ERR_LISTEN'
  constructor (message: string) {
    super(message, ListenError.code)
    this.name = 'ListenError'
  }
}

/** A `watch()` consumer fell too far behind; the iterator ends with this error. */
export class WatchOverflowError extends RepramError {
  static readonly code = 'ERR_WATCH_OVERFLOW'
  constructor (limit: number) {
    super(`watch consumer fell more than ${limit} changes behind`, WatchOverflowError.code)
    this.name = 'WatchOverflowError'
  }
}
