/**
 * Options of `new RepramNode(init)` and their validation. `resolveConfig` is
 * pure: it checks every field once, fills defaults, and throws
 * `InvalidConfigError` naming the field and the bad value. Unbounded
 * configurations (infinite TTLs or store sizes) are refused.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { InvalidConfigError } from './errors.ts'
import type { PrivateKey } from '@libp2p/interface'

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** Largest delay Node's timers honour; larger delays fire at once. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1

export interface MdnsOptions {
  /** How often to announce and query, ms. @default 10000 */
  interval?: number
}

export interface RepramNodeInit {
  /**
   * Swarm name. Nodes only replicate with nodes of the same network: it
   * names the gossip topic, the mDNS service tag, the DHT protocol and the
   * sync protocol id. Letters, digits, `.`, `_`, `-`; 1-64 characters.
   * @default 'repram'
   */
  network?: string
  /** Multiaddrs to listen on. @default ['/ip4/0.0.0.0/tcp/0'] */
  listen?: string[]
  /**
   * Multiaddrs to announce instead of the listen addresses: TCP, with the
   * port peers reach (not 0). `/p2p/<id>` may be left out; given, it must be
   * the node's own (checked at start). @default [] (announce what we listen on)
   */
  announce?: string[]
  /** Find peers on the LAN with mDNS. @default true */
  mdns?: boolean | MdnsOptions
  /**
   * Peers to connect to at start, as TCP (or `/dnsaddr`) multiaddrs ending
   * in `/p2p/<peer id>`. Dialled with backoff until connected, and redialled
   * after a drop; a peer listed at several addresses is dialled at each in turn.
   * @default []
   */
  bootstrap?: string[]
  /** Take part in a private Kademlia DHT and find peers of the network through it. @default false */
  dht?: boolean
  /** TTL used when a put names none, ms. @default 3600000 (1 hour), or the nearest of `minTtl` and `maxTtl` when those leave 1 hour out */
  defaultTtl?: number
  /** Smallest TTL a put may ask for, ms. @default 1000 */
  minTtl?: number
  /** Largest TTL a put may ask for, ms. At most 2^31-1 ms (24.8 days). @default 604800000 (7 days), or `minTtl` if that is larger */
  maxTtl?: number
  /** Largest value, bytes. At most 3 MiB (gossip frames are capped at 4 MiB). @default 1048576 */
  maxValueBytes?: number
  /** Largest key, bytes of UTF-8. @default 512 */
  maxKeyBytes?: number
  /** Most live entries the store holds; a put beyond it throws `StoreFullError`. @default 1000000 */
  maxEntries?: number
  /** Most bytes the store holds: keys + values, and each distinct writer id and content type once (its length + 64 B); a put beyond it throws `StoreFullError`. @default 268435456 (256 MiB) */
  maxBytes?: number
  /**
   * How far a peer's clock may run ahead of ours, ms. Incoming writes whose
   * version or expiry lies further in the future than this (plus `maxTtl`)
   * are rejected.
   * @default 30000
   */
  maxClockSkew?: number
  /** Anti-entropy: every this many ms, sync with one random peer. 0 disables it. @default 30000 */
  syncInterval?: number
  /**
   * A sync round in which, for this many ms, no frame was written or read
   * and no chunk of one arrived is abandoned (a round as a whole has no
   * deadline: a large catch-up over a slow link takes as long as it
   * takes). @default 30000
   */
  syncIdleTimeout?: number
  /**
   * Pre-shared key of a private swarm (the `/key/swarm/psk/1.0.0/` file
   * format, as text or bytes). Nodes without the same key cannot connect.
   */
  psk?: string | Uint8Array
  /** The node's identity. @default a new Ed25519 key, or the one in `identityFile` */
  privateKey?: PrivateKey
  /**
   * Path of a file holding the node's private key (protobuf, as libp2p
   * writes it). Created with a new key when missing, so the peer id survives restarts.
   * One running node per file: another node's start with it, on this machine,
   * throws `InvalidConfigError` (see identity-claim.ts).
   */
  identityFile?: string
  /** Time source, epoch ms. For tests. @default Date.now */
  clock?: () => number
}

export interface Config {
  network: string
  listen: string[]
  announce: string[]
  mdns: false | { interval: number }
  bootstrap: string[]
  dht: boolean
  defaultTtl: number
  minTtl: number
  maxTtl: number
  maxValueBytes: number
  maxKeyBytes: number
  maxEntries: number
  maxBytes: number
  maxClockSkew: number
  syncInterval: number
  syncIdleTimeout: number
  psk?: Uint8Array
  privateKey?: PrivateKey
  identityFile?: string
  clock: () => number
}

export const DEFAULTS = {
  network: 'repram',
  listen: ['/ip4/0.0.0.0/tcp/0'],
  mdnsInterval: 10 * SECOND,
  defaultTtl: HOUR,
  minTtl: SECOND,
  maxTtl: 7 * DAY,
  maxValueBytes: 1024 * 1024,
  maxKeyBytes: 512,
  maxEntries: 1_000_000,
  maxBytes: 256 * 1024 * 1024,
  maxClockSkew: 30 * SECOND,
  syncInterval: 30 * SECOND,
  syncIdleTimeout: 30 * SECOND
} as const

/** Hard ceiling for `maxValueBytes`: a batch of one must fit a 4 MiB gossip frame. */
export const MAX_VALUE_BYTES_LIMIT = 3 * 1024 * 1024
/** Hard ceiling for `maxKeyBytes`. */
export const MAX_KEY_BYTES_LIMIT = 4096

const NETWORK_RE = /^[A-Za-z0-9._-]{1,64}$/
const PSK_RE = /^\/key\/swarm\/psk\/1\.0\.0\/\r?\n\/base16\/\r?\n([0-9a-fA-F]{64})\s*$/

function describe (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? value.slice(0, 80) + '…' : value)
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  if (Array.isArray(value)) return 'an array'
  return `a ${typeof value}`
}

function int (init: Record<string, unknown>, field: string, def: number, min: number, max: number, label = field): number {
  const value = init[field]
  if (value === undefined) return def
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new InvalidConfigError(label, `expected an integer, got ${describe(value)}`)
  }
  if (value < min || value > max) {
    throw new InvalidConfigError(label, `${value} is outside [${min}, ${max}]`)
  }
  return value
}

function stringList (init: Record<string, unknown>, field: string, def: readonly string[], check?: (s: string) => string | undefined): string[] {
  const value = init[field]
  if (value === undefined) return [...def]
  if (!Array.isArray(value)) throw new InvalidConfigError(field, `expected an array of multiaddr strings, got ${describe(value)}`)
  return value.map((item: unknown, i: number) => {
    if (typeof item !== 'string' || item.length === 0 || !item.startsWith('/')) {
      throw new InvalidConfigError(`${field}[${i}]`, `expected a multiaddr string such as "/ip4/127.0.0.1/tcp/4001", got ${describe(item)}`)
    }
    const problem = check?.(item)
    if (problem !== undefined) throw new InvalidConfigError(`${field}[${i}]`, `${problem} (got ${describe(item)})`)
    return item
  })
}

function checkMultiaddr (s: string): string | undefined {
  try {
    multiaddr(s)
    return undefined
  } catch (err) {
    return `not a valid multiaddr: ${(err as Error).message}`
  }
}

/**
 * Why `s` is not a TCP address, the only transport a node has
 * (`/ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>`, with `/p2p/<id>` when
 * `p2p` allows it), or `undefined`.
 */
function checkTcpAddr (s: string, p2p: 'no' | 'optional' | 'required' = 'no'): string | undefined {
  const invalid = checkMultiaddr(s)
  if (invalid !== undefined) return invalid
  const names = multiaddr(s).getComponents().map(c => c.name)
  if (names.at(-1) === 'p2p') {
    if (p2p === 'no') return 'leave out /p2p/<peer id>: the node adds its own'
    names.pop()
  }
  const tcp = (['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(names[0]) && names[1] === 'tcp' && names.length === 2) ||
    (p2p === 'required' && names.length === 1 && names[0] === 'dnsaddr')
  return tcp ? undefined : `only TCP addresses are supported, such as "/ip4/0.0.0.0/tcp/4001"`
}

/** Why `s` is not an address to announce: a TCP address with the port peers reach (not 0), or `undefined`. */
function checkAnnounceAddr (s: string): string | undefined {
  const problem = checkTcpAddr(s, 'optional')
  if (problem !== undefined) return problem
  return multiaddr(s).getComponents().find(c => c.name === 'tcp')?.value === '0' ? 'an announced address needs the port peers reach, not 0' : undefined
}

/** The peer id an address ends in (`/p2p/<id>`, as written), or `undefined`. */
export function addrPeerId (s: string): string | undefined {
  return P2P_SUFFIX.exec(s)?.[1]
}

const P2P_SUFFIX = /\/p2p\/([^/]+)$/

/**
 * `s` (a valid peer address, see {@link checkPeerAddr}) with its peer id in
 * the one text form libp2p compares (a CID form, say, becomes the usual one).
 */
export function canonicalPeerAddr (s: string): string {
  const id = addrPeerId(s)!
  return `${s.slice(0, s.length - id.length)}${peerIdFromString(id).toString()}`
}

/** Why `s` is not a peer's TCP address (a multiaddr ending in `/p2p/<peer id>`), or `undefined`. */
export function checkPeerAddr (s: string, what = 'a bootstrap address'): string | undefined {
  const id = addrPeerId(s)
  if (id === undefined) return `${what} must end in /p2p/<peer id>`
  try {
    peerIdFromString(id)
  } catch {
    return `"${id}" is not a valid peer id`
  }
  return checkTcpAddr(s, 'required')
}

const KNOWN_FIELDS = new Set([
  'network', 'listen', 'announce', 'mdns', 'bootstrap', 'dht', 'defaultTtl', 'minTtl', 'maxTtl',
  'maxValueBytes', 'maxKeyBytes', 'maxEntries', 'maxBytes', 'maxClockSkew', 'syncInterval', 'syncIdleTimeout', 'psk',
  'privateKey', 'identityFile', 'clock'
])

/** Validates `init` and fills defaults. Throws `InvalidConfigError`. */
export function resolveConfig (init: RepramNodeInit = {}): Config {
  if (init === null || typeof init !== 'object') throw new InvalidConfigError('init', `expected an options object, got ${describe(init)}`)
  const raw = init as Record<string, unknown>
  for (const field of Object.keys(raw)) {
    if (!KNOWN_FIELDS.has(field)) throw new InvalidConfigError(field, 'unknown option')
  }

  const network = raw.network === undefined ? DEFAULTS.network : raw.network
  if (typeof network !== 'string' || !NETWORK_RE.test(network)) {
    throw new InvalidConfigError('network', `expected 1-64 letters, digits, ".", "_" or "-", got ${describe(network)}`)
  }

  let mdns: Config['mdns']
  if (raw.mdns === undefined || raw.mdns === true) mdns = { interval: DEFAULTS.mdnsInterval }
  else if (raw.mdns === false) mdns = false
  else if (typeof raw.mdns === 'object' && raw.mdns !== null) {
    for (const field of Object.keys(raw.mdns)) {
      if (field !== 'interval') throw new InvalidConfigError(`mdns.${field}`, 'unknown option')
    }
    mdns = { interval: int(raw.mdns as Record<string, unknown>, 'interval', DEFAULTS.mdnsInterval, 100, MAX_TIMER_DELAY_MS, 'mdns.interval') }
  } else throw new InvalidConfigError('mdns', `expected true, false or { interval }, got ${describe(raw.mdns)}`)

  if (raw.dht !== undefined && typeof raw.dht !== 'boolean') throw new InvalidConfigError('dht', `expected a boolean, got ${describe(raw.dht)}`)

  const minTtl = int(raw, 'minTtl', DEFAULTS.minTtl, 1, MAX_TIMER_DELAY_MS)
  const maxTtl = int(raw, 'maxTtl', Math.max(DEFAULTS.maxTtl, minTtl), minTtl, MAX_TIMER_DELAY_MS)
  const defaultTtl = int(raw, 'defaultTtl', Math.min(Math.max(DEFAULTS.defaultTtl, minTtl), maxTtl), minTtl, maxTtl)

  let psk: Uint8Array | undefined
  if (raw.psk !== undefined) {
    if (typeof raw.psk === 'string') psk = new TextEncoder().encode(raw.psk)
    else if (raw.psk instanceof Uint8Array) psk = raw.psk
    else throw new InvalidConfigError('psk', `expected the swarm key file's text or bytes, got ${describe(raw.psk)}`)
    const key = PSK_RE.exec(new TextDecoder().decode(psk))?.[1]
    if (key === undefined) {
      throw new InvalidConfigError('psk', 'expected a swarm key: "/key/swarm/psk/1.0.0/", "/base16/" and 64 hex digits on three lines (see generatePsk())')
    }
    // In the one form libp2p's reader takes (it refuses CRLF on some lines, trailing spaces).
    psk = new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${key.toLowerCase()}`)
  }

  if (raw.identityFile !== undefined && (typeof raw.identityFile !== 'string' || raw.identityFile === '')) {
    throw new InvalidConfigError('identityFile', `expected a file path, got ${describe(raw.identityFile)}`)
  }
  if (raw.privateKey !== undefined && raw.identityFile !== undefined) {
    throw new InvalidConfigError('privateKey', 'give either privateKey or identityFile, not both')
  }
  if (raw.privateKey !== undefined && !isPrivateKey(raw.privateKey)) {
    throw new InvalidConfigError('privateKey', `expected a libp2p PrivateKey (see generateKeyPair from @libp2p/crypto/keys), got ${describe(raw.privateKey)}`)
  }
  if (raw.clock !== undefined && typeof raw.clock !== 'function') {
    throw new InvalidConfigError('clock', `expected a function returning epoch ms, got ${describe(raw.clock)}`)
  }

  return {
    network,
    listen: stringList(raw, 'listen', DEFAULTS.listen, s => checkTcpAddr(s)),
    announce: stringList(raw, 'announce', [], checkAnnounceAddr),
    mdns,
    bootstrap: stringList(raw, 'bootstrap', [], s => checkPeerAddr(s)).map(canonicalPeerAddr),
    dht: raw.dht === true,
    defaultTtl,
    minTtl,
    maxTtl,
    maxValueBytes: int(raw, 'maxValueBytes', DEFAULTS.maxValueBytes, 1, MAX_VALUE_BYTES_LIMIT),
    maxKeyBytes: int(raw, 'maxKeyBytes', DEFAULTS.maxKeyBytes, 1, MAX_KEY_BYTES_LIMIT),
    maxEntries: int(raw, 'maxEntries', DEFAULTS.maxEntries, 1, 100_000_000),
    maxBytes: int(raw, 'maxBytes', DEFAULTS.maxBytes, 1, Number.MAX_SAFE_INTEGER),
    maxClockSkew: int(raw, 'maxClockSkew', DEFAULTS.maxClockSkew, 0, HOUR),
    syncInterval: int(raw, 'syncInterval', DEFAULTS.syncInterval, 0, MAX_TIMER_DELAY_MS),
    syncIdleTimeout: int(raw, 'syncIdleTimeout', DEFAULTS.syncIdleTimeout, 1, MAX_TIMER_DELAY_MS),
    psk,
    privateKey: raw.privateKey as PrivateKey | undefined,
    identityFile: raw.identityFile as string | undefined,
    clock: (raw.clock as (() => number) | undefined) ?? Date.now
  }
}

/** The shape of a libp2p `PrivateKey`, as far as a node relies on it before libp2p does. */
function isPrivateKey (value: unknown): boolean {
  const key = value as Partial<PrivateKey> | null
  return typeof key === 'object' && key !== null && typeof key.type === 'string' && key.raw instanceof Uint8Array &&
    typeof key.sign === 'function' && typeof key.equals === 'function' && typeof key.publicKey === 'object' && key.publicKey !== null
}
