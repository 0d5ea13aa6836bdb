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
 * - Limits: `maxEntries` live entries and `maxBytes` of keys and values
 *   (and of the distinct origins and content types: `internedBytes`).
 *   A write that would cross them is refused with `'full'` and changes nothing.
 *
 * Layout: struct-of-arrays. A slot index per key (in `index`), and per-slot
 * columns in typed arrays, so an entry costs a few dozen bytes besides its
 * key and value instead of an object graph. Values up to `MAX_LOG_VALUE`
 * bytes are copied into an append-only log (`value-log.ts`) and read back as
 * views of it: a read allocates no buffer and copies nothing.
 */
import { compareVersions, formatVersion } from './hlc.ts'
import { ExpiryHeap } from './expiry-heap.ts'
import { Interner } from './interner.ts'
import { KeyIndex } from './key-index.ts'
import { UintStack } from './uint-stack.ts'
import { MAX_LOG_VALUE, ValueLog } from './value-log.ts'
import { SmallestStrings } from './smallest.ts'
import { SYNC_BUCKETS, bucketOf, hashKeyUtf8, hashString, recordLane } from './digest.ts'
import { indexHash } from './index-hash.ts'
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
  /**
   * Set by `records` on a marker `refuse` left, while the value it stands
   * for may live elsewhere: it goes out as a notice, not as a marker.
   */
  notice?: boolean
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
  /**
   * Asked for with `apply(rec, true)`, when the write was stored with its
   * value: the store's copy of the value and the record's guard, as this
   * call stored them (an expire listener it runs may change the key next).
   */
  stored?: { value: Uint8Array, guardUntil: number }
}

export interface MemoryStoreInit {
  clock: () => number
  maxEntries: number
  maxBytes: number
  /**
   * Most markers kept. Beyond it a delete or an expired overwrite drops the
   * key whole instead of leaving a marker (no-resurrection becomes best
   * effort). @default maxEntries
   */
  maxMarkers?: number
  /** Most bytes of keys that markers keep, likewise. @default maxBytes */
  maxMarkerBytes?: number
  /**
   * How long past a refused value's expiry its marker stays hidden from
   * peers (the clock skew allowed between nodes): see `refuse`. @default 0
   */
  refusedHideMs?: number
  /** Called for every live value removed by expiry. Must not throw. */
  onExpire?: (key: string, expiresAt: number) => void
  /** Time budget of one expiry slice, ms. @default 4 */
  expirySliceMs?: number
  /**
   * Lets up to this many reads and writes within one synchronous run share
   * one clock reading (it is dropped at the next microtask checkpoint, and
   * after `onExpire` ran). Reading the clock between lookups stops the CPU
   * from overlapping their cache misses and costs more than the lookup
   * itself; the reading is as old as what ran since it was taken: this
   * many store operations, and whatever the caller did between them. Use 0
   * with a clock that tests move by hand. @default 0
   */
  clockReuse?: number
}

const EMPTY = new Uint8Array(0)
/**
 * Layout of a slot's metadata: `M` doubles per slot, so one read brings a
 * slot's metadata in one cache line or two (a lookup in a million entries
 * is bound by cache misses, not by arithmetic). The first three are times,
 * read through `meta` (a `Float64Array`); the last two hold four 32-bit
 * fields, read through `words` (a `Uint32Array` over the same memory, `W`
 * words per slot), so that none of them needs floating-point arithmetic to
 * pack or unpack.
 */
const M = 5
const WALL = 1
const GUARD = 2
const W = 2 * M
const COUNTER = 6
/** Origin id in `originTable`. */
const ORIGIN = 7
/** Content type id in `ctypeTable` + 1 (0: none). */
const CTYPE = 8
/**
 * Value length, bytes. For a marker, 0, or for one left by `refuse`, 1 +
 * the refused value's TTL (its expiry less its version's time, ms, at most
 * `MAX_REFUSED_TTL`): see `refuse`.
 */
const VLEN = 9
const MAX_REFUSED_TTL = 0xfffffffe

export class MemoryStore {
  private readonly clock: () => number
  private readonly maxEntries: number
  private readonly maxBytes: number
  private readonly maxMarkers: number
  private readonly maxMarkerBytes: number
  private readonly refusedHideMs: number
  private readonly onExpire?: (key: string, expiresAt: number) => void
  private readonly sliceMs: number

  private readonly index = new KeyIndex()
  /**
   * `[key, value]` per slot: key `undefined` for a free slot; value `null`
   * for a marker, a log handle (a number) for a small value, or the
   * value's own array for a large one (or an empty one).
   */
  private refs: Array<string | Uint8Array | number | null | undefined> = []
  private readonly log = new ValueLog((slot, handle) => { this.refs[2 * slot + 1] = handle })
  /** `M` doubles per slot: expiresAt, wall, guardUntil, then (in `words`) counter, origin id, content type id + 1, value length. */
  private meta = new Float64Array(0)
  /** The same memory as `meta`, as 32-bit words: `W` per slot. */
  private words = new Uint32Array(0)
  private capacity = 0
  private readonly freeSlots = new UintStack()
  private nextSlot = 0

  private originTable = new Interner(s => hashString(s, 0x5bd1e995))
  private ctypeTable = new Interner(s => hashString(s, 0))
  private readonly heap = new ExpiryHeap()
  /** Per-bucket XOR digests, two 32-bit lanes interleaved. */
  readonly digests = new Uint32Array(SYNC_BUCKETS * 2)

  private live = 0
  private markers = 0
  private liveBytes = 0
  /** Bytes of the keys markers keep. */
  private markerBytes = 0
  private readonly clockReuse: number
  private hashedKey = ''
  private hashedKeyHash = hashString('', 0)
  /** UTF-8 length of `hashedKey`, set by `keyHash`. */
  private readonly hashedKeyUtf8 = { bytes: 0 }
  private indexedKey = ''
  private indexedKeyHash = indexHash('')
  private clockReading = 0
  private clockReadsLeft = 0
  private clockDropQueued = false
  private timer?: ReturnType<typeof setTimeout>
  private timerAt = Infinity
  private running = false
  /** The slot the last value `applyAt` stored went to. */
  private linkedSlot = 0

  constructor (init: MemoryStoreInit) {
    this.clock = init.clock
    this.maxEntries = init.maxEntries
    this.maxBytes = init.maxBytes
    this.maxMarkers = init.maxMarkers ?? init.maxEntries
    this.maxMarkerBytes = init.maxMarkerBytes ?? init.maxBytes
    this.refusedHideMs = init.refusedHideMs ?? 0
    this.onExpire = init.onExpire
    this.sliceMs = init.expirySliceMs ?? 4
    this.clockReuse = init.clockReuse ?? 0
    this.grow(1024)
  }

  /** Live entries (some may be past `expiresAt` and not yet swept). */
  get size (): number { return this.live }
  /** Bytes of live keys and values. */
  get bytes (): number { return this.liveBytes }
  get markerCount (): number { return this.markers }

  /** Bytes of the keys markers keep (bounded by `maxMarkerBytes`). */
  get markerKeyBytes (): number { return this.markerBytes }

  /**
   * Bytes of the distinct origins and content types held (each string once,
   * however many entries refer to it; see interner.ts). They count against
   * `maxBytes` with the keys and values: a peer could otherwise send each
   * record with an origin and a content type of its own, hundreds of bytes
   * a record that no limit saw.
   */
  get internedBytes (): number { return this.originTable.bytes + this.ctypeTable.bytes }

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
    this.refs = []
    this.log.clear()
    this.freeSlots.clear()
    this.nextSlot = 0
    this.live = 0
    this.markers = 0
    this.liveBytes = 0
    this.markerBytes = 0
    this.heap.clear()
    this.digests.fill(0)
    this.originTable = new Interner(s => hashString(s, 0x5bd1e995))
    this.ctypeTable = new Interner(s => hashString(s, 0))
    this.meta = new Float64Array(0)
    this.words = new Uint32Array(0)
    this.capacity = 0
    this.grow(1024)
    this.clearTimer()
  }

  /** The live entry under `key`, or undefined when absent, deleted or expired. */
  get (key: string): Entry | undefined {
    const slot = this.liveSlot(key)
    if (slot === undefined) return undefined
    const wall = this.meta[M * slot + WALL]
    return {
      key,
      value: this.valueAt(slot)!,
      expiresAt: this.meta[M * slot],
      createdAt: wall,
      version: formatVersion(wall, this.words[W * slot + COUNTER]),
      origin: this.originTable.get(this.words[W * slot + ORIGIN]),
      contentType: this.contentTypeAt(slot)
    }
  }

  /**
   * Whether the live value under `key` is still the version `(wall,
   * counter, origin)` and unexpired, i.e. `get` would return that version.
   * Builds nothing (no view of the value, no version text): a cheap
   * re-check of an entry a caller kept from an earlier `get`.
   */
  isCurrent (key: string, wall: number, counter: number, origin: string): boolean {
    const slot = this.liveSlot(key)
    return slot !== undefined && this.meta[M * slot + WALL] === wall && this.words[W * slot + COUNTER] === counter &&
      this.originTable.get(this.words[W * slot + ORIGIN]) === origin
  }

  /** The bytes held for `key` (live or not yet swept), or undefined; cheaper than `get` when only they are needed. */
  valueOf (key: string): Uint8Array | undefined {
    const slot = this.slotOf(key)
    return slot === undefined ? undefined : this.valueAt(slot) ?? undefined
  }

  /** Whether the newest version of `key` is one `refuse` took, and its value is still live on nodes that could hold it. */
  isRefused (key: string): boolean {
    const slot = this.slotOf(key)
    return slot !== undefined && this.refusedExpiry(slot) > this.now()
  }

  /** Whether `key` has a live value. */
  has (key: string): boolean {
    return this.liveSlot(key) !== undefined
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
  checkCapacity (key: string, valueBytes: number, origin: string, contentType?: string): string | undefined {
    const full = this.capacityFor(key, valueBytes, origin, contentType)
    return full !== undefined && this.sweepDue() ? this.capacityFor(key, valueBytes, origin, contentType) : full
  }

  /**
   * Sweeps what is due now (one slice), when anything is: at a limit,
   * expired entries not swept yet must not keep a write out. Returns
   * whether it removed anything.
   */
  private sweepDue (): boolean {
    if (this.heap.size === 0 || this.heap.peekTime() > this.clock()) return false
    // What the limits count (an expired overwrite becomes a marker: one entry fewer all the same).
    const live = this.live
    const bytes = this.liveBytes + this.internedBytes
    const markers = this.markers
    this.expireDue()
    this.schedule()
    return this.live < live || this.liveBytes + this.internedBytes < bytes || this.markers < markers
  }

  private capacityFor (key: string, valueBytes: number, origin: string, contentType: string | undefined): string | undefined {
    const slot = this.slotOf(key)
    const hadValue = slot !== undefined && this.hasValue(slot)
    // Same key: an overwrite only changes the value's share of the bytes.
    const added = (hadValue ? valueBytes - this.valueLength(slot) : this.keyBytes(key) + valueBytes) + this.internedChange(slot, origin, contentType)
    if (!hadValue && this.live >= this.maxEntries) return `the store holds maxEntries (${this.maxEntries}) entries`
    if (this.liveBytes + this.internedBytes + added > this.maxBytes) return `the store would exceed maxBytes (${this.maxBytes} bytes)`
    return undefined
  }

  /**
   * How `internedBytes` changes when `slot` (if any) comes to hold a
   * version by `origin` with `contentType`: what new strings add, less
   * what the strings it held free (when no other slot refers to them).
   */
  private internedChange (slot: number | undefined, origin: string, contentType: string | undefined): number {
    let change = this.originTable.cost(origin) + (contentType === undefined ? 0 : this.ctypeTable.cost(contentType))
    if (slot === undefined) return change
    const oldOrigin = this.words[W * slot + ORIGIN]
    if (this.originTable.get(oldOrigin) !== origin) change -= this.originTable.freed(oldOrigin)
    const oldType = this.words[W * slot + CTYPE]
    if (oldType !== 0 && this.ctypeTable.get(oldType - 1) !== contentType) change -= this.ctypeTable.freed(oldType - 1)
    return change
  }

  /**
   * Applies a write under last-writer-wins. See {@link ApplyStatus}; with
   * `keep`, the result says what was stored (`stored`).
   */
  apply (rec: StoreRecord, keep = false): ApplyResult {
    const result = this.applyOnce(rec, keep)
    // Expired entries not swept yet still count against the limits: sweep, and try once more.
    return result.status === 'full' && this.sweepDue() ? this.applyOnce(rec, keep) : result
  }

  private applyOnce (rec: StoreRecord, keep: boolean): ApplyResult {
    const now = this.now()
    const slot = this.slotOf(rec.key)
    // A value past its expiry but not swept yet, that this write replaces:
    // its expire event fires once the store is consistent again (never in
    // the middle of this call, where a listener's own write would recurse).
    const unswept = slot !== undefined && this.hasValue(slot) && this.meta[M * slot] <= now ? this.meta[M * slot] : 0
    const result = this.applyAt(rec, slot, now)
    if (keep && result.status === 'applied' && rec.value !== null) {
      const at = this.linkedSlot
      result.stored = { value: this.valueAt(at)!, guardUntil: this.meta[M * at + GUARD] }
    }
    if (unswept !== 0 && result.status !== 'stale' && result.status !== 'full') this.expired(rec.key, unswept)
    return result
  }

  private applyAt (rec: StoreRecord, slot: number | undefined, now: number): ApplyResult {
    const hadValue = slot !== undefined && this.hasValue(slot) && this.meta[M * slot] > now
    let guard = rec.guardUntil
    if (slot !== undefined) {
      const cmp = this.versionAt(rec, slot)
      if (cmp <= 0) {
        // This version (or one it superseded) lives somewhere until
        // `outlives`: our guard, and a marker's horizon, must reach past it.
        // (The same version of a value has the same expiry: only its guard can add.)
        this.extendGuard(slot, cmp < 0 || rec.value === null ? Math.max(rec.expiresAt, rec.guardUntil) : rec.guardUntil)
        return { status: 'stale', hadValue }
      }
      guard = Math.max(guard, this.meta[M * slot + GUARD], this.meta[M * slot])
    }

    if (rec.value === null || rec.expiresAt <= now) {
      // A delete, or a newer write that has already expired: the key ends
      // up absent, behind a marker while anything it superseded may live.
      const horizon = Math.max(rec.expiresAt, guard)
      const status: ApplyStatus = rec.value === null ? 'applied' : 'expired'
      const isMarker = slot !== undefined && !this.hasValue(slot)
      if (horizon <= now || !this.roomForMarker(rec.key, rec.origin, slot, isMarker)) {
        // Nothing left to guard, or no room for one more marker (best effort).
        if (slot !== undefined) this.freeSlot(slot)
        return { status, hadValue }
      }
      if (slot === undefined) slot = this.allocSlot(rec.key)
      else this.unlink(slot)
      this.link(slot, rec.value === null ? rec : { ...rec, value: null, contentType: undefined }, horizon, guard)
      return { status, hadValue }
    }

    const holdsValue = slot !== undefined && this.hasValue(slot)
    const added = (holdsValue ? rec.value.length - this.valueLength(slot!) : this.keyBytes(rec.key) + rec.value.length) +
      this.internedChange(slot, rec.origin, rec.contentType)
    if ((!holdsValue && this.live >= this.maxEntries) || this.liveBytes + this.internedBytes + added > this.maxBytes) {
      return { status: 'full', hadValue }
    }
    if (slot === undefined) slot = this.allocSlot(rec.key)
    else this.unlink(slot)
    this.link(slot, rec, rec.expiresAt, guard)
    this.linkedSlot = slot
    return { status: 'applied', hadValue }
  }

  /**
   * A newer version this node refuses to hold for its own limits (a value
   * over its `maxValueBytes`, a TTL over its `maxTtl`). It supersedes older
   * versions all the same, so that the value it replaced is not served as
   * current: the key ends up absent, behind a marker of that version.
   *
   * - The marker's guard reaches past what it superseded here, as on a
   *   node that stores the value. Its digest is that of the value there,
   *   once such a node has learnt that guard (from the notice below).
   * - Until the value's expiry, plus `refusedHideMs` (the clock skew
   *   allowed), `records` hands it out as a notice (`notice: true`), not
   *   as a marker: a peer that can hold the value must not take a marker
   *   of the same version (it would refuse the value as stale), but one
   *   that holds that version takes the guard (`takeNotice`), so that the
   *   older version cannot come back there either. After that it is a
   *   marker like any other.
   *
   * Status `'applied'` when it superseded something (or left a marker),
   * `'stale'` when this node holds that version or a newer one.
   */
  refuse (rec: StoreRecord): ApplyResult {
    const slot = this.slotOf(rec.key)
    if (slot !== undefined && this.versionAt(rec, slot) <= 0) {
      // Not newer: what a stale value does (a guard it carries may reach further), as on a node that holds it.
      return this.apply(rec)
    }
    const result = this.apply({ ...rec, value: null, contentType: undefined })
    // The marker, unless there was no need or no room for one.
    const marker = this.slotOf(rec.key)
    // (That very version's marker: an expire listener run by `apply` may have written the key since.)
    if (marker !== undefined && !this.hasValue(marker) && this.versionAt(rec, marker) === 0) {
      this.words[W * marker + VLEN] = Math.min(Math.max(rec.expiresAt - rec.wall, 0), MAX_REFUSED_TTL) + 1
    }
    return result
  }

  /**
   * A peer's notice of a version it keeps only a marker of (`refuse`):
   * when this store holds that very version, it takes the notice's guard
   * (as it would take the guard of the same version's value), and nothing
   * else happens: a notice never creates, replaces or removes anything.
   * Returns whether it changed the guard.
   */
  takeNotice (rec: StoreRecord): boolean {
    const slot = this.slotOf(rec.key)
    return slot !== undefined && this.versionAt(rec, slot) === 0 && this.extendGuard(slot, rec.guardUntil)
  }

  /** `compareVersions` of `rec` against what `slot` holds. */
  private versionAt (rec: StoreRecord, slot: number): number {
    return compareVersions(rec.wall, rec.counter, rec.origin, this.meta[M * slot + WALL], this.words[W * slot + COUNTER], this.originTable.get(this.words[W * slot + ORIGIN]))
  }

  /**
   * Moves the guard of what `slot` holds out to `outlives` when that is
   * later (and a marker's horizon with it); returns whether it moved. The
   * guard is part of the record's digest.
   */
  private extendGuard (slot: number, outlives: number): boolean {
    if (outlives <= this.meta[M * slot + GUARD]) return false
    this.toggleDigest(slot)
    this.meta[M * slot + GUARD] = outlives
    this.toggleDigest(slot)
    if (!this.hasValue(slot) && outlives > this.meta[M * slot]) {
      this.meta[M * slot] = outlives
      this.heap.push(outlives, slot)
    }
    return true
  }

  /** The expiry of the value refused in `slot` (a marker left by `refuse`); 0 for anything else. */
  private refusedExpiry (slot: number): number {
    const v = this.words[W * slot + VLEN]
    return this.hasValue(slot) || v === 0 ? 0 : this.meta[M * slot + WALL] + v - 1
  }

  /**
   * Live keys starting with `prefix`, sorted in code-unit order; expired ones
   * are left out. With `after`, only the keys that sort after it; with
   * `limit`, only the first `limit` of those, found in one pass without
   * sorting the rest (a page of a large store).
   */
  keys (prefix = '', after?: string, limit = Infinity): string[] {
    const now = this.clock()
    const page = limit === Infinity ? undefined : new SmallestStrings(limit)
    const out: string[] = []
    for (let slot = 0; slot < this.nextSlot; slot++) {
      const key = this.keyAt(slot)
      if (key === undefined || !this.hasValue(slot) || !(this.meta[M * slot] > now) || !key.startsWith(prefix)) continue
      if (after !== undefined && key <= after) continue
      if (page === undefined) out.push(key)
      else page.offer(key)
    }
    return page === undefined ? out.sort() : page.sorted()
  }

  /**
   * Every record (live values and markers, those `refuse` left as
   * notices) whose bucket is flagged in `wanted`, or all when omitted. With
   * `pauseEvery`, also `undefined` after every that many slots looked at: a
   * consumer that awaits something there (a turn of the event loop) never
   * holds the loop for a whole scan, which at a million entries takes tens
   * of milliseconds when few buckets are wanted. The store may change during
   * such a pause; what comes after it is read then.
   */
  records (wanted?: Uint8Array): Generator<StoreRecord>
  records (wanted: Uint8Array | undefined, pauseEvery: number): Generator<StoreRecord | undefined>
  * records (wanted?: Uint8Array, pauseEvery = Infinity): Generator<StoreRecord | undefined> {
    let now = this.clock()
    for (let slot = 0; slot < this.nextSlot; slot++) {
      if (slot > 0 && slot % pauseEvery === 0) {
        yield undefined
        now = this.clock()
      }
      if (this.keyAt(slot) === undefined) continue
      if (wanted !== undefined && wanted[bucketOf(hashString(this.keyAt(slot)!, 0))] === 0) continue
      if (this.meta[M * slot] <= now) {
        // Expired, not swept yet: a value that still guards goes out as the marker it is about to become.
        if (this.hasValue(slot) && this.meta[M * slot + GUARD] > now) yield { ...this.recordAt(slot), value: null, contentType: undefined, expiresAt: this.meta[M * slot + GUARD] }
        continue
      }
      if (this.refusedExpiry(slot) + this.refusedHideMs > now) {
        yield { ...this.recordAt(slot), notice: true }
        continue
      }
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
      if (this.keyAt(slot) === undefined || this.meta[M * slot] !== time) continue // stale heap item
      const key = this.keyAt(slot)!
      const wasLive = this.hasValue(slot)
      if (wasLive && this.meta[M * slot + GUARD] > time && this.roomForMarker(key, this.originTable.get(this.words[W * slot + ORIGIN]), slot, false)) {
        // Expired overwrite: keep a marker until the superseded versions are gone.
        this.liveBytes -= this.keyBytes(key) + this.valueLength(slot)
        this.live--
        this.markers++
        this.markerBytes += this.keyBytes(key)
        this.setValue(slot, null)
        const ct = this.words[W * slot + CTYPE]
        if (ct !== 0) {
          this.ctypeTable.release(ct - 1)
          this.words[W * slot + CTYPE] = 0
        }
        this.meta[M * slot] = this.meta[M * slot + GUARD]
        this.heap.push(this.meta[M * slot + GUARD], slot)
      } else {
        this.freeSlot(slot)
      }
      if (wasLive) this.expired(key, time)
      // The budget is checked every 16 removals: each may run an expire listener, which may take its time.
      if ((++n & 15) === 0 && performance.now() - started > budgetMs) return this.heap.size > 0 && this.heap.peekTime() <= now
    }
    if (this.heap.size > 2 * this.index.size + 4096) this.compactHeap()
    return false
  }

  // --- internals -----------------------------------------------------------

  /** The clock, read at most once per `clockReuse` operations of one synchronous run. */
  private now (): number {
    if (this.clockReadsLeft > 0) {
      this.clockReadsLeft--
      return this.clockReading
    }
    this.clockReading = this.clock()
    if (this.clockReuse > 0) {
      this.clockReadsLeft = this.clockReuse
      if (!this.clockDropQueued) {
        this.clockDropQueued = true
        queueMicrotask(this.dropClockReading)
      }
    }
    return this.clockReading
  }

  /**
   * Runs `onExpire`. A listener may run long, so the shared clock reading
   * is dropped after it: the store's next call reads the clock again.
   */
  private expired (key: string, expiresAt: number): void {
    if (this.onExpire === undefined) return
    this.onExpire(key, expiresAt)
    this.clockReadsLeft = 0
  }

  private readonly dropClockReading = (): void => {
    this.clockReadsLeft = 0
    this.clockDropQueued = false
  }

  /** A key's hash in the index (see index-hash.ts); a write looks its key up and inserts it: hash it once. */
  private indexKey (key: string): number {
    if (key !== this.indexedKey) {
      this.indexedKey = key
      this.indexedKeyHash = indexHash(key)
    }
    return this.indexedKeyHash
  }

  /** A key's hash in the sync digest, the same on every node; a write updates the digest and the byte counts: hash it once. */
  private keyHash (key: string): number {
    if (key !== this.hashedKey) {
      this.hashedKey = key
      this.hashedKeyHash = hashKeyUtf8(key, this.hashedKeyUtf8)
    }
    return this.hashedKeyHash
  }

  /** A key's UTF-8 length, from the same pass as its hash. */
  private keyBytes (key: string): number {
    this.keyHash(key)
    return this.hashedKeyUtf8.bytes
  }

  private keyAt (slot: number): string | undefined { return this.refs[2 * slot] as string | undefined }
  private hasValue (slot: number): boolean { return this.refs[2 * slot + 1] !== null }
  private valueLength (slot: number): number { return this.words[W * slot + VLEN] }
  private contentTypeAt (slot: number): string | undefined {
    const ct = this.words[W * slot + CTYPE]
    return ct === 0 ? undefined : this.ctypeTable.get(ct - 1)
  }

  /** The value's bytes (a view for a value in the log: no copy), or null for a marker. */
  private valueAt (slot: number): Uint8Array | null {
    const v = this.refs[2 * slot + 1] as Uint8Array | number | null
    return typeof v === 'number' ? this.log.read(v, this.words[W * slot + VLEN]) : v
  }

  /**
   * Sets a slot's value, releasing the log record of the one it replaces.
   * The store keeps a copy of its own: the caller's array (a view into a
   * received message, say) is neither kept nor pinned.
   */
  private setValue (slot: number, value: Uint8Array | null): void {
    const old = this.refs[2 * slot + 1]
    if (typeof old === 'number') this.log.release(old)
    if (value === null) {
      this.refs[2 * slot + 1] = null
    } else if (value.length === 0) {
      this.refs[2 * slot + 1] = EMPTY
    } else if (value.length <= MAX_LOG_VALUE) {
      this.refs[2 * slot + 1] = this.log.store(value, slot)
    } else {
      this.refs[2 * slot + 1] = new Uint8Array(value) // a copy even of a Buffer (whose slice() would be a view)
    }
    this.words[W * slot + VLEN] = value === null ? 0 : value.length
  }

  /** The slot of `key` when it holds a live, unexpired value. */
  private liveSlot (key: string): number | undefined {
    const slot = this.slotOf(key)
    return slot !== undefined && this.hasValue(slot) && this.meta[M * slot] > this.now() ? slot : undefined
  }

  private slotOf (key: string): number | undefined {
    const slot = this.index.find(key, this.indexKey(key), this.refs)
    return slot < 0 ? undefined : slot
  }

  private recordAt (slot: number): StoreRecord {
    return {
      key: this.keyAt(slot)!,
      value: this.valueAt(slot),
      expiresAt: this.meta[M * slot],
      wall: this.meta[M * slot + WALL],
      counter: this.words[W * slot + COUNTER],
      origin: this.originTable.get(this.words[W * slot + ORIGIN]),
      contentType: this.contentTypeAt(slot),
      guardUntil: this.meta[M * slot + GUARD]
    }
  }

  private allocSlot (key: string): number {
    let slot = this.freeSlots.pop()
    if (slot < 0) {
      if (this.nextSlot === this.capacity) this.grow(this.capacity * 2)
      slot = this.nextSlot++
    }
    this.refs[2 * slot] = key
    this.refs[2 * slot + 1] = null
    this.index.insert(this.indexKey(key), slot)
    return slot
  }

  /** Fills a slot (allocated, or unlinked) with a record's content. */
  private link (slot: number, rec: StoreRecord, expiresAt: number, guard: number): void {
    this.setValue(slot, rec.value)
    this.meta[M * slot] = expiresAt
    this.meta[M * slot + WALL] = rec.wall
    this.words[W * slot + COUNTER] = rec.counter
    this.meta[M * slot + GUARD] = guard
    this.words[W * slot + ORIGIN] = this.originTable.acquire(rec.origin)
    // A marker keeps no content type (a delete may carry one).
    this.words[W * slot + CTYPE] = rec.contentType === undefined || rec.value === null ? 0 : this.ctypeTable.acquire(rec.contentType) + 1
    if (rec.value !== null) {
      this.live++
      this.liveBytes += this.keyBytes(rec.key) + rec.value.length
    } else {
      this.markers++
      this.markerBytes += this.keyBytes(rec.key)
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
    if (this.hasValue(slot)) {
      this.live--
      this.liveBytes -= this.keyBytes(this.keyAt(slot)!) + this.valueLength(slot)
    } else {
      this.markers--
      this.markerBytes -= this.keyBytes(this.keyAt(slot)!)
    }
    this.originTable.release(this.words[W * slot + ORIGIN])
    if (this.words[W * slot + CTYPE] !== 0) this.ctypeTable.release(this.words[W * slot + CTYPE] - 1)
    this.setValue(slot, null)
  }

  /**
   * Whether a marker under `key`, of a version by `origin`, in `slot` (which
   * holds a marker already when `isMarker`) stays within `maxMarkers`,
   * `maxMarkerBytes` and `maxBytes`.
   */
  private roomForMarker (key: string, origin: string, slot: number | undefined, isMarker: boolean): boolean {
    if (!isMarker && (this.markers >= this.maxMarkers || this.markerBytes + this.keyBytes(key) > this.maxMarkerBytes)) return false
    // A marker keeps no content type: what the slot's content type frees counts too.
    return this.internedBytes + this.internedChange(slot, origin, undefined) <= this.maxBytes
  }

  private freeSlot (slot: number): void {
    this.unlink(slot)
    this.index.remove(this.indexKey(this.keyAt(slot)!), slot)
    this.refs[2 * slot] = undefined
    this.meta[M * slot] = 0
    this.freeSlots.push(slot)
  }

  private toggleDigest (slot: number): void {
    const kh = this.keyHash(this.keyAt(slot)!)
    const oh = this.originTable.hashes[this.words[W * slot + ORIGIN]]
    const b = bucketOf(kh) * 2
    const guard = this.meta[M * slot + GUARD]
    this.digests[b] ^= recordLane(kh, this.meta[M * slot + WALL], this.words[W * slot + COUNTER], oh, guard, 0)
    this.digests[b + 1] ^= recordLane(kh, this.meta[M * slot + WALL], this.words[W * slot + COUNTER], oh, guard, 1)
  }

  /**
   * Grows the slot columns to `capacity` slots, `refs` included. `refs` is
   * given its new length here, at each doubling, rather than left to grow on
   * its own as slots are written: a JS array grows its backing store by 1.5x
   * at a time, and every growth of a large one is a fresh allocation, a copy
   * and work for the garbage collector. Filling a store with a million
   * entries took about 54,000 page faults with the array left to grow on its
   * own, and 43,000 with it grown here.
   */
  private grow (capacity: number): void {
    this.refs.length = 2 * capacity
    const meta = new Float64Array(capacity * M)
    const words = new Uint32Array(meta.buffer)
    words.set(this.words) // bit for bit: some doubles hold integer fields
    this.meta = meta
    this.words = words
    this.capacity = capacity
  }

  private compactHeap (): void {
    const { meta, refs, nextSlot } = this
    this.heap.rebuild((function * () {
      for (let slot = 0; slot < nextSlot; slot++) if (refs[2 * slot] !== undefined) yield [meta[M * slot], slot] as [number, number]
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
      // More is due: yield to I/O, then continue. (A write made by an expire
      // listener during the slice may have armed the timer: one timer only.)
      this.clearTimer()
      this.timerAt = this.clock()
      this.timer = setTimeout(this.onTimer, 0)
      this.timer.unref?.()
      return
    }
    this.schedule()
  }
}
