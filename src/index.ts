/**
 * @packageDocumentation
 *
 * REPRAM: a peer-to-peer, in-memory, replicated ephemeral key/value store.
 * Every entry has a TTL and disappears from every node when it runs out.
 *
 * @example
 * ```ts
 * import { RepramNode } from 'repram'
 *
 * const node = new RepramNode({ network: 'demo' })
 * await node.start()
 * await node.put('greeting', 'hello', { ttl: 60_000 })
 * const entry = await node.get('greeting')
 * console.log(new TextDecoder().decode(entry?.value))
 * await node.stop()
 * ```
 */
export { RepramNode } from './repram-node.ts'
export { resolveConfig, DEFAULTS } from './config.ts'
export type { RepramNodeInit, MdnsOptions, Config } from './config.ts'
export * from './errors.ts'
export type * from './types.ts'
export { generatePsk, loadOrCreateIdentity } from './identity.ts'
export { compareVersions, parseVersion } from './store/hlc.ts'
