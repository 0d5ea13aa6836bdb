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
  methods: Readonly<Partial<Record<string, RouteHandler>>>
  /** Long-lived responses are not timed in the latency histogram. */
  streaming?: boolean
}

const DATA: Route = { name: '/v1/data/{key}', methods: { GET: getData, PUT: putData, POST: putData, DELETE: deleteData } }
const LEGACY_DATA: Route = { ...DATA, name: '/data/{key}' }
const HEALTH: Route = { name: '/v1/health', methods: { GET: health } }

const EXACT = new Map<string, Route>([
  ['/v1/keys', { name: '/v1/keys', methods: { GET: keys } }],
  ['/v1/health', HEALTH],
  ['/health', { ...HEALTH, name: '/health' }],
  ['/v1/status', { name: '/v1/status', methods: { GET: status } }],
  ['/v1/topology', { name: '/v1/topology', methods: { GET: topology } }],
  ['/v1/metrics', { name: '/v1/metrics', methods: { GET: metrics } }],
  ['/v1/watch', { name: '/v1/watch', methods: { GET: watch }, streaming: true }]
])

/** Routes whose path ends with a captured parameter (the rest of the path, slashes included). */
const PREFIXED: ReadonlyArray<[string, Route]> = [
  ['/v1/data/', DATA],
  ['/data/', LEGACY_DATA]
]

export interface RouteMatch {
  route: Route
  /** The captured, still percent-encoded rest of the path. */
  param: string
}

export function matchRoute (path: string): RouteMatch | undefined {
  const exact = EXACT.get(path)
  if (exact !== undefined) return { route: exact, param: '' }
  for (const [prefix, route] of PREFIXED) {
    if (path.startsWith(prefix)) return { route, param: path.slice(prefix.length) }
  }
  return undefined
}

/** Methods `route` answers, as listed in `Allow`. */
export function allowedMethods (route: Route): string[] {
  const methods = Object.keys(route.methods)
  if (route.methods.GET !== undefined) methods.splice(1, 0, 'HEAD')
  methods.push('OPTIONS')
  return methods
}
