/**
 * The route table: which paths exist, which methods each allows, and the
 * label each carries in metrics (a template, never a key, so the label set
 * stays small).
 */
import { deleteData, getData, putData } from './data.ts'
import { health, keys, status, topology } from './info.ts'
import { metrics } from './metrics.ts'
import { watch } from './sse.ts'
import type { RouteHandler } from './context.ts'

export interface Route {
  /** Path template, used as the metrics label. */
  name: string
  /** Handlers by method. `HEAD` falls back to `GET` (Node then drops the body). */
  methods: ReadonlyMap<string, RouteHandler>
  /** Long-lived responses are not timed in the latency histogram. */
  streaming?: boolean
}

/** A route's handler table (a `Map`: a method name is looked up on every request, and never finds an inherited property). */
function byMethod (handlers: Record<string, RouteHandler>): ReadonlyMap<string, RouteHandler> {
  return new Map(Object.entries(handlers))
}

const DATA: Route = { name: '/v1/data/{key}', methods: byMethod({ GET: getData, PUT: putData, POST: putData, DELETE: deleteData }) }
const LEGACY_DATA: Route = { ...DATA, name: '/data/{key}' }
const HEALTH: Route = { name: '/v1/health', methods: byMethod({ GET: health }) }

const EXACT = new Map<string, Route>([
  ['/v1/keys', { name: '/v1/keys', methods: byMethod({ GET: keys }) }],
  ['/v1/health', HEALTH],
  ['/health', { ...HEALTH, name: '/health' }],
  ['/v1/status', { name: '/v1/status', methods: byMethod({ GET: status }) }],
  ['/v1/topology', { name: '/v1/topology', methods: byMethod({ GET: topology }) }],
  ['/v1/metrics', { name: '/v1/metrics', methods: byMethod({ GET: metrics }) }],
  ['/v1/watch', { name: '/v1/watch', methods: byMethod({ GET: watch }), streaming: true }]
])

/** Routes whose path ends with a captured parameter (the rest of the path, slashes included). */
const PREFIXED: ReadonlyArray<[string, Route]> = [
  ['/v1/data/', DATA],
  ['/data/', LEGACY_DATA]
]

// matchRoute tries the prefixes first: an exact path under one would never be reached
for (const path of EXACT.keys()) {
  if (PREFIXED.some(([prefix]) => path.startsWith(prefix))) throw new Error(`route ${path} lies under a prefix route`)
}

export interface RouteMatch {
  route: Route
  /** The captured, still percent-encoded rest of the path. */
  param: string
}

export function matchRoute (path: string): RouteMatch | undefined {
  // prefixes first: no exact path starts with one, and the data routes are
  // the busy ones (a path is a fresh string, so a Map lookup must hash it)
  for (const [prefix, route] of PREFIXED) {
    if (path.startsWith(prefix)) return { route, param: path.slice(prefix.length) }
  }
  const exact = EXACT.get(path)
  return exact === undefined ? undefined : { route: exact, param: '' }
}

/** Methods `route` answers, as listed in `Allow`. */
export function allowedMethods (route: Route): string[] {
  const methods = [...route.methods.keys()]
  if (route.methods.has('GET')) methods.splice(1, 0, 'HEAD')
  methods.push('OPTIONS')
  return methods
}

/** The handler of `method` on `route` (`HEAD` answered by `GET`), or undefined. */
export function handlerOf (route: Route, method: string): RouteHandler | undefined {
  return route.methods.get(method) ?? (method === 'HEAD' ? route.methods.get('GET') : undefined)
}
