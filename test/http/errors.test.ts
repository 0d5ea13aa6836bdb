import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { errorResponse, HttpError } from '../../src/http/errors.ts'
import { AbortError, InvalidKeyError, InvalidTtlError, InvalidValueError, NotStartedError, StoreFullError, ValueTooLargeError } from '../../src/errors.ts'

test('core errors map to their statuses by name, keeping name and message', () => {
  const cases: Array<[Error, number]> = [
    [new InvalidKeyError('bad key'), 400],
    [new InvalidTtlError('bad ttl'), 400],
    [new InvalidValueError('bad value'), 400],
    [new ValueTooLargeError(10, 5), 413],
    [new StoreFullError('full'), 507],
    [new NotStartedError(), 503],
    [new AbortError(), 503]
  ]
  for (const [err, status] of cases) {
    const r = errorResponse(err)
    assert.is(r.status, status, err.name)
    assert.equal(r.body, { error: err.name, message: err.message })
  }
})

test('adapter errors carry their headers', () => {
  const r = errorResponse(new HttpError('RateLimitedError', 'slow down', { 'Retry-After': '3' }))
  assert.is(r.status, 429)
  assert.equal(r.headers, { 'Retry-After': '3' })
  assert.is(errorResponse(new HttpError('MethodNotAllowedError', 'no', { Allow: 'GET' })).status, 405)
  assert.is(errorResponse(new HttpError('NotFoundError', 'no')).status, 404)
})

test('unknown errors become a bare 500 that leaks nothing', () => {
  const secret = new Error('ECONNREFUSED at /srv/secret/path value=hunter2')
  const r = errorResponse(secret)
  assert.is(r.status, 500)
  assert.equal(r.body, { error: 'InternalError', message: 'internal error' })
  assert.is(errorResponse('a string').status, 500)
  assert.is(errorResponse(undefined).status, 500)
})

test.run()
