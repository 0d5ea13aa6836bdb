/**
 * The one table that maps error names to HTTP statuses. Core errors
 * (`InvalidKeyError`, `StoreFullError`, ...) and the adapter's own
 * (`RateLimitedError`, `NotFoundError`, ...) are matched by `name`, so the
 * adapter never depends on class identity. Anything not in the table is an
 * internal failure: it becomes a bare 500 whose body says nothing about it.
 */

const STATUS_BY_NAME: Readonly<Record<string, number>> = {
  InvalidKeyError: 400,
  InvalidTtlError: 400,
  InvalidValueError: 400,
  InvalidParameterError: 400,
  InvalidArgumentError: 400,
  // Not raised here: for a node wrapped to refuse some writes (e.g. the fade example's).
  ForbiddenError: 403,
  KeyNotFoundError: 404,
  NotFoundError: 404,
  MethodNotAllowedError: 405,
  ValueTooLargeError: 413,
  RateLimitedError: 429,
  NotStartedError: 503,
  AbortError: 503,
  StoreFullError: 507
}

/** Names of the errors the adapter raises itself. */
export type HttpErrorName =
  | 'InvalidKeyError'
  | 'InvalidTtlError'
  | 'InvalidParameterError'
  | 'KeyNotFoundError'
  | 'NotFoundError'
  | 'MethodNotAllowedError'
  | 'ValueTooLargeError'
  | 'RateLimitedError'
  | 'NotStartedError'

/** An error raised by the adapter itself; `headers` are added to its response (e.g. `Allow`, `Retry-After`). */
export class HttpError extends Error {
  readonly headers: Readonly<Record<string, string>>

  constructor (name: HttpErrorName, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.name = name
    this.headers = headers
  }
}

export interface ErrorResponse {
  status: number
  headers: Readonly<Record<string, string>>
  body: { error: string, message: string }
}

/**
 * What to answer for `err`. Known errors keep their name and message (core
 * messages never contain stored values); unknown ones become
 * `500 { error: 'InternalError' }` with a fixed message.
 */
export function errorResponse (err: unknown): ErrorResponse {
  const name = err instanceof Error ? err.name : undefined
  const status = name === undefined ? undefined : STATUS_BY_NAME[name]
  if (status === undefined || !(err instanceof Error)) {
    return { status: 500, headers: {}, body: { error: 'InternalError', message: 'internal error' } }
  }
  const headers = err instanceof HttpError ? err.headers : {}
  return { status, headers, body: { error: err.name, message: err.message } }
}

/** Whether `err` maps to a status of its own (as opposed to an internal failure worth logging). */
export function isKnownError (err: unknown): boolean {
  return err instanceof Error && STATUS_BY_NAME[err.name] !== undefined
}
