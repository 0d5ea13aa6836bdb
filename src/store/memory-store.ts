/**
 * The in-memory store: live entries, deletion markers, TTL expiry, limits.
 * Imports nothing from libp2p; replication feeds it `StoreRecord`s.
 *
 * Invariants
 * - Per key the store holds the newest version it has seen: a live value, or
 *   a *marker* (tombstone) when the newest version is a delete or an expired
 *   overwrite. Anything not newer than that is refused (last writer wins on
 *   the HLC order of `compareVersions`).
 * - `guardUntil` is the latest `expiresAt` of any version the current one
 *   superseded. When a value expires before its guard, it turns into a
 *   marker that lives until the guard, so an older version still alive on a
 *   partitioned node can never come back. Markers vanish at their horizon.
 * - No expired value is ever returned: reads check `expiresAt`. One timer,
 *   armed for the soonest expiry over a min-heap, removes due entries in
 *   time-sliced batches so the event loop never stalls.
 * - Limits: `maxEntries` live entries and `maxBytes` of keys and values.
 *   A write that would cross them is refused with `'full'` and changes nothing.
 *
 * Layout: struct-of-arrays. A slot index per key (in `index`), and per-slot
 * columns in typed arrays, so an entry costs a few dozen bytes besides its
 * key and value instead of an object graph.
 */
import { compareVersions, formatVersion } from './hlc.ts'
import { ExpiryHeap } from './expiry-heap.ts'
import { Interner } from './interner.ts'
import { KeyIndex } from './key-index.ts'
import { SYNC_BUCKETS, bucketOf, hashString, recordLane } from './digest.ts'
import { MAX_TIMER_DELAY_MS } from '../config.ts'
import type { Entry } from '../types.ts'

/** A write as it travels between nodes and into the store. */
export interface StoreRecord {
  key: string
  /** The value, or `null` for a delete (tombstone) or marker. */
  value: Uint8Array | null
  /** Epoch ms. For a tombstone: how long the marker must live. */
  expiresAt: number
  wall: number
  counter: number
  origin: string
  contentType?: string
  /** Latest expiry among versions this one superseded (0: none known). */
  guardUntil: number
}

export type ApplyStatus =
  /** Stored; the key's newest version changed. */
  | 'applied'
  /** Not newer than what the store holds; nothing changed. */
  | 'stale'
  /** Would cross `maxEntries`/`maxBytes`; nothing changed. */
  | 'full'
  /** A newer version that had already expired: any older value was removed. */
  | 'expired'

export interface ApplyResult {
  status: ApplyStatus
  /** Whether the key held a live value before. */
  hadValue: boolean
}

export interface MemoryStoreInit {
  clock: () => number
  maxEntries: number
  maxBytes: number
  /** Most markers kept; beyond it new markers for unknown keys are not kept. @default maxEntries */
  maxMarkers?: number
  /** Called for every live value removed by expiry. Must not throw. */
  onExpire?: (key: string, expiresAt: number) => void
  /** Time budget of one expiry slice, ms. @default 4 */
  expirySliceMs?: number
}

const NONE = 0xffffffff
const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8')

export class MemoryStore {
  private readonly clock: () => number
  private readonly maxEntries: number
  private readonly maxBytes: number
  private readonly maxMarkers: number
  private readonly onExpire?: (key: string, expiresAt: number) => void
  private readonly sliceMs: number

  private readonly index = new KeyIndex()
  private keyOf: Array<string | undefined> = []
  private valueOf: Array<Uint8Array | null> = []
  private expires = new Float64Array(0)
  private walls = new Float64Array(0)
  private guards = new Float64Array(0)
  private counters = new Uint32Array(0)
  private origins = new Uint32Array(0)
  private ctypes = new Uint32Array(0)
  private capacity = 0
  private readonly freeSlots: number[] = []
  private nextSlot = 0

  private originTable = new Interner(s => hashString(s, 0x5bd1e995))
  private ctypeTable = new Interner(s => hashString(s, 0))
  private readonly heap = new ExpiryHeap()
  /** Per-bucket XOR digests, two 32-bit lanes interleaved. */
  readonly digests = new Uint32Array(SYNC_BUCKETS * 2)

  private live = 0
  private markers = 0
  private liveBytes = 0
  private timer?: ReturnType<typeof setTimeout>
  private timerAt = Infinity
  private running = false

  constructor (init: MemoryStoreInit) {
    this.clock = init.clock
    this.maxEntries = init.maxEntries
    this.maxBytes = init.maxBytes
    this.maxMarkers = init.maxMarkers ?? init.maxEntries
    this.onExpire = init.onExpire
    this.sliceMs = init.expirySliceMs ?? 4
    this.grow(1024)
  }

  /** Live entries (some may be past `expiresAt` and not yet swept). */
  get size (): number { return this.live }
  /** Bytes of live keys and values. */
  get bytes (): number { return this.liveBytes }
  get markerCount (): number { return this.markers }

  /** Arms the expiry timer. Idempotent. */
  start (): void {
    if (this.running) return
    this.running = true
    this.schedule()
  }

  /** Disarms the expiry timer; contents stay. Idempotent. */
  stop (): void {
    this.running = false
    this.clearTimer()
  }

  /** Removes everything. */
  clear (): void {
    this.index.clear()
    this.keyOf = []
    this.valueOf = []
    this.freeSlots.length = 0
    this.nextSlot = 0
    this.live = 0
    this.markers = 0
    this.liveBytes = 0
    this.heap.clear()
    this.digests.fill(0)
    this.originTable = new Interner(s => hashString(s, 0x5bd1e995))
    this.ctypeTable = new Interner(s => hashString(s, 0))
    this.expires = new Float64Array(0)
    this.walls = new Float64Array(0)
    this.guards = new Float64Array(0)
    this.counters = new Uint32Array(0)
    this.origins = new Uint32Array(0)
    this.ctypes = new Uint32Array(0)
    this.capacity = 0
    this.grow(1024)
    this.clearTimer()
  }

  /** The live entry under `key`, or undefined when absent, deleted or expired. */
  get (key: string): Entry | undefined {
    const slot = this.slotOf(key)
    if (slot === undefined) return undefined
    const value = this.valueOf[slot]
    const expiresAt = this.expires[slot]
    if (value === null || expiresAt <= this.clock()) return undefined
    const wall = this.walls[slot]
    const ct = this.ctypes[slot]
    return {
      key,
      value,
      expiresAt,
      createdAt: wall,
      version: formatVersion(wall, this.counters[slot]),
      origin: this.originTable.get(this.origins[slot]),
      contentType: ct === NONE ? undefined : this.ctypeTable.get(ct)
    }
  }

  /** Whether `key` has a live value. */
  has (key: string): boolean {
    const slot = this.slotOf(key)
    return slot !== undefined && this.valueOf[slot] !== null && this.expires[slot] > this.clock()
  }

  /** The record (live or marker) held for `key`, for replication. */
  record (key: string): StoreRecord | undefined {
    const slot = this.slotOf(key)
    return slot === undefined ? undefined : this.recordAt(slot)
  }

  /**
   * Would a new live value of `size` bytes under `key` fit? (`undefined`
   * when yes, else the reason.) `apply` checks the same; this lets a caller
   * refuse before it consumes a version.
   */
  checkCapacity (key: string, valueBytes: number): string | undefined {
    const slot = this.slotOf(key)
    const hadValue = slot !== undefined && this.valueOf[slot] !== null
    const oldBytes = hadValue ? utf8Length(key) + this.valueOf[slot]!.length : 0
    const newBytes = utf8Length(key) + valueBytes
    if (!hadValue && this.live >= this.maxEntries) return `the store holds maxEntries (${this.maxEntries}) entries`
    if (this.liveBytes - oldBytes + newBytes > this.maxBytes) return `the store would exceed maxBytes (${this.maxBytes} bytes)`
    return undefined
  }

  /** Applies a write under last-writer-wins. See {@link ApplyStatus}. */
  apply (rec: StoreRecord): ApplyResult {
    const now = this.clock()
    const slot = this.slotOf(rec.key)
    // A value past its expiry but not swept yet, that this write replaces:
    // its expire event fires once the store is consistent again (never in
    // the middle of this call, where a listener's own write would recurse).
    const unswept = slot !== undefined && this.valueOf[slot] !== null && this.expires[slot] <= now ? this.expires[slot] : 0
    const result = this.applyAt(rec, slot, now)
    if (unswept !== 0 && result.status !== 'stale' && result.status !== 'full') this.onExpire?.(rec.key, unswept)
    return result
  }

  private applyAt (rec: StoreRecord, slot: number | undefined, now: number): ApplyResult {
    const hadValue = slot !== undefined && this.valueOf[slot] !== null && this.expires[slot] > now
    let guard = rec.guardUntil
    if (slot !== undefined) {
      const cmp = compareVersions(rec.wall, rec.counter, rec.origin, this.walls[slot], this.counters[slot], this.originTable.get(this.origins[slot]))
      if (cmp <= 0) {
        // This version (or one it superseded) lives somewhere until
        // `outlives`: our guard, and a marker's horizon, must reach past it.
        // (The same version of a value has the same expiry: only its guard can add.)
        const outlives = cmp < 0 || rec.value === null ? Math.max(rec.expiresAt, rec.guardUntil) : rec.guardUntil
        if (outlives > this.guards[slot]) this.guards[slot] = outlives
        if (this.valueOf[slot] === null && outlives > this.expires[slot]) {
          this.expires[slot] = outlives
          this.heap.push(outlives, slot)
        }
        return { status: 'stale', hadValue }
      }
      guard = Math.max(guard, this.guards[slot], this.expires[slot])
    }

    if (rec.value === null || rec.expiresAt <= now) {
      // A delete, or a newer write that has already expired: the key ends
      // up absent, behind a marker while anything it superseded may live.
      const horizon = Math.max(rec.expiresAt, guard)
      const status: ApplyStatus = rec.value === null ? 'applied' : 'expired'
      const isMarker = slot !== undefined && this.valueOf[slot] === null
      if (horizon <= now || (!isMarker && this.markers >= this.maxMarkers)) {
        // Nothing left to guard, or no room for one more marker (best effort).
        if (slot !== undefined) this.freeSlot(slot)
        return { status, hadValue }
      }
      if (slot === undefined) slot = this.allocSlot(rec.key)
      else this.unlink(slot)
      this.link(slot, rec.value === null ? rec : { ...rec, value: null, contentType: undefined }, horizon, guard)
      return { status, hadValue }
    }

    const holdsValue = slot !== undefined && this.valueOf[slot] !== null
    const keyBytes = utf8Length(rec.key)
    const oldBytes = holdsValue ? keyBytes + this.valueOf[slot!]!.length : 0
    if ((!holdsValue && this.live >= this.maxEntries) || this.liveBytes - oldBytes + keyBytes + rec.value.length > this.maxBytes) {
      return { status: 'full', hadValue }
    }
    if (slot === undefined) slot = this.allocSlot(rec.key)
    else this.unlink(slot)
    this.link(slot, rec, rec.expiresAt, guard)
    return { status: 'applied', hadValue }
  }

  /** Live keys, sorted; expired ones are left out. */
  keys (prefix = ''): string[] {
    const now = this.clock()
    const out: string[] = []
    for (let slot = 0; slot < this.nextSlot; slot++) {
      const key = this.keyOf[slot]
      if (key !== undefined && this.valueOf[slot] !== null && this.expires[slot] > now && key.startsWith(prefix)) out.push(key)
    }
    return out.sort()
  }

  /** Every record (live values and markers) whose bucket is flagged in `wanted`, or all when omitted. */
  * records (wanted?: Uint8Array): Generator<StoreRecord> {
    const now = this.clock()
    for (let slot = 0; slot < this.nextSlot; slot++) {
      if (this.keyOf[slot] === undefined) continue
      if (wanted !== undefined && wanted[bucketOf(hashString(this.keyOf[slot]!, 0))] === 0) continue
      if (this.expires[slot] <= now) continue
      yield this.recordAt(slot)
    }
  }

  /**
   * Removes every entry whose time has come. Works for at most `budgetMs`
   * (default: the slice budget) and returns whether due work remains.
   */
  expireDue (budgetMs = this.sliceMs): boolean {
    const started = performance.now()
    const now = this.clock()
    let n = 0
    while (this.heap.size > 0 && this.heap.peekTime() <= now) {
      const time = this.heap.peekTime()
      const slot = this.heap.peekSlot()
      this.heap.pop()
      if (this.keyOf[slot] === undefined || this.expires[slot] !== time) continue // stale heap item
      const key = this.keyOf[slot]!
      const value = this.valueOf[slot]
      if (value !== null && this.guards[slot] > time && this.markers < this.maxMarkers) {
        // Expired overwrite: keep a marker until the superseded versions are gone.
        this.liveBytes -= utf8Length(key) + value.length
        this.live--
        this.markers++
        this.valueOf[slot] = null
        if (this.ctypes[slot] !== NONE) {
          this.ctypeTable.release(this.ctypes[slot])
          this.ctypes[slot] = NONE
        }
        this.expires[slot] = this.guards[slot]
        this.heap.push(this.guards[slot], slot)
      } else {
        this.freeSlot(slot)
      }
      if (value !== null) this.onExpire?.(key, time)
      if ((++n & 255) === 0 && performance.now() - started > budgetMs) return this.heap.size > 0 && this.heap.peekTime() <= now
    }
    if (this.heap.size > 2 * this.index.size + 4096) this.compactHeap()
    return false
  }

  // --- internals -----------------------------------------------------------

  private slotOf (key: string): number | undefined {
    const slot = this.index.find(key, hashString(key, 0), this.keyOf)
    return slot < 0 ? undefined : slot
  }

  private recordAt (slot: number): StoreRecord {
    const ct = this.ctypes[slot]
    return {
      key: this.keyOf[slot]!,
      value: this.valueOf[slot],
      expiresAt: this.expires[slot],
      wall: this.walls[slot],
      counter: this.counters[slot],
      origin: this.originTable.get(this.origins[slot]),
      contentType: ct === NONE ? undefined : this.ctypeTable.get(ct),
      guardUntil: this.guards[slot]
    }
  }

  private allocSlot (key: string): number {
    let slot = this.freeSlots.pop()
    if (slot === undefined) {
      if (this.nextSlot === this.capacity) this.grow(this.capacity * 2)
      slot = this.nextSlot++
    }
    this.keyOf[slot] = key
    this.valueOf[slot] = null
    this.index.insert(hashString(key, 0), slot)
    return slot
  }

  /** Fills a slot (allocated, or unlinked) with a record's content. */
  private link (slot: number, rec: StoreRecord, expiresAt: number, guard: number): void {
    this.valueOf[slot] = rec.value
    this.expires[slot] = expiresAt
    this.walls[slot] = rec.wall
    this.counters[slot] = rec.counter
    this.guards[slot] = guard
    this.origins[slot] = this.originTable.acquire(rec.origin)
    this.ctypes[slot] = rec.contentType === undefined ? NONE : this.ctypeTable.acquire(rec.contentType)
    if (rec.value !== null) {
      this.live++
      this.liveBytes += utf8Length(rec.key) + rec.value.length
    } else {
      this.markers++
    }
    this.toggleDigest(slot)
    this.heap.push(expiresAt, slot)
    // Overwrites leave stale heap items behind: compact before they pile up.
    if (this.heap.size > 2 * this.index.size + 4096) this.compactHeap()
    if (expiresAt < this.timerAt) this.schedule()
  }

  /** Takes a slot's content out of the counters, digest and tables (the slot stays allocated). */
  private unlink (slot: number): void {
    this.toggleDigest(slot)
    const value = this.valueOf[slot]
    if (value !== null) {
      this.live--
      this.liveBytes -= utf8Length(this.keyOf[slot]!) + value.length
    } else {
      this.markers--
    }
    this.originTable.release(this.origins[slot])
    if (this.ctypes[slot] !== NONE) this.ctypeTable.release(this.ctypes[slot])
    this.valueOf[slot] = null
  }

  private freeSlot (slot: number): void {
    this.unlink(slot)
    this.index.remove(hashString(this.keyOf[slot]!, 0), slot)
    this.keyOf[slot] = undefined
    this.expires[slot] = 0
    this.freeSlots.push(slot)
  }

  private toggleDigest (slot: number): void {
    const kh = hashString(this.keyOf[slot]!, 0)
    const oh = this.originTable.hashes[this.origins[slot]]
    const b = bucketOf(kh) * 2
    this.digests[b] ^= recordLane(kh, this.walls[slot], this.counters[slot], oh, 0)
    this.digests[b + 1] ^= recordLane(kh, this.walls[slot], this.counters[slot], oh, 1)
  }

  private grow (capacity: number): void {
    const copy = <T extends Float64Array | Uint32Array | Uint16Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity)
      next.set(old as any)
      return next
    }
    this.expires = copy(this.expires, n => new Float64Array(n))
    this.walls = copy(this.walls, n => new Float64Array(n))
    this.guards = copy(this.guards, n => new Float64Array(n))
    this.counters = copy(this.counters, n => new Uint32Array(n))
    this.origins = copy(this.origins, n => new Uint32Array(n))
    this.ctypes = copy(this.ctypes, n => new Uint32Array(n))
    this.capacity = capacity
  }

  private compactHeap (): void {
    const { expires, keyOf, nextSlot } = this
    this.heap.rebuild((function * () {
      for (let slot = 0; slot < nextSlot; slot++) if (keyOf[slot] !== undefined) yield [expires[slot], slot] as [number, number]
    })())
  }

  private clearTimer (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.timerAt = Infinity
  }

  /** Arms the one timer for the soonest expiry (clamped to Node's max delay). */
  private schedule (): void {
    if (!this.running) return
    const next = this.heap.peekTime()
    if (next === this.timerAt && this.timer !== undefined) return
    this.clearTimer()
    if (next === Infinity) return
    const delay = Math.min(Math.max(0, next - this.clock()), MAX_TIMER_DELAY_MS)
    this.timerAt = next
    this.timer = setTimeout(this.onTimer, delay)
    this.timer.unref?.()
  }

  private readonly onTimer = (): void => {
    this.timer = undefined
    this.timerAt = Infinity
    if (!this.running) return
    if (this.expireDue()) {
      // More is due: yield to I/O, then continue.
      this.timerAt = this.clock()
      this.timer = setTimeout(this.onTimer, 0)
      this.timer.unref?.()
      return
    }
    this.schedule()
  }
}
