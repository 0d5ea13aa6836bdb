/**
 * Hybrid logical clock (HLC) versions.
 *
 * A version is `(wall, counter, origin)`: `wall` is epoch ms, `counter`
 * orders writes within one ms, `origin` is the writer's peer id and breaks
 * ties. The order is total and the same on every node, so last-writer-wins
 * converges whatever the arrival order. The clock never runs backwards and
 * moves past every version it observes, so a write made after seeing another
 * write always wins over it, even across skewed clocks.
 */

export interface Version {
  /** Epoch ms (physical part). */
  wall: number
  /** Logical part: orders writes within one `wall` ms. */
  counter: number
  /** Writer's peer id: the deterministic tie-break. */
  origin: string
}

/** Total order on versions: negative when `a` is older than `b`, 0 when equal. */
export function compareVersions (aWall: number, aCounter: number, aOrigin: string, bWall: number, bCounter: number, bOrigin: string): number {
  if (aWall !== bWall) return aWall < bWall ? -1 : 1
  if (aCounter !== bCounter) return aCounter < bCounter ? -1 : 1
  if (aOrigin === bOrigin) return 0
  return aOrigin < bOrigin ? -1 : 1
}

/** Public text form of a version's clock reading: `"<wall>.<counter>"`. */
export function formatVersion (wall: number, counter: number): string {
  if (wall < 1e6 || wall >= 2 ** 31 * 1e6) return `${wall}.${counter}`
  // Epoch ms are not small integers, and V8 turns them into text slowly;
  // two small integer halves are several times faster (this runs on every read).
  const high = (wall / 1e6) | 0
  const low = (wall - high * 1e6) | 0
  return `${high}${ZEROS[low < 10 ? 5 : low < 100 ? 4 : low < 1000 ? 3 : low < 10000 ? 2 : low < 100000 ? 1 : 0]}${low}.${counter}`
}

const ZEROS = ['', '0', '00', '000', '0000', '00000']

/** Parses {@link formatVersion}'s output; `undefined` when malformed. */
export function parseVersion (text: string): { wall: number, counter: number } | undefined {
  const m = /^(0|[1-9]\d{0,15})\.(0|[1-9]\d{0,9})$/.exec(text)
  if (m === null) return undefined
  const wall = Number(m[1])
  const counter = Number(m[2])
  return Number.isSafeInteger(wall) && counter <= MAX_COUNTER ? { wall, counter } : undefined
}

/**
 * The counter of a version text as {@link formatVersion} writes it, or -1
 * when `text` is not one. No regular expression and no allocation: for
 * re-checking an entry on a hot path.
 */
export function versionCounter (text: string): number {
  const dot = text.lastIndexOf('.')
  // at most 10 digits: MAX_COUNTER has 10
  if (dot < 1 || dot === text.length - 1 || text.length - dot > 11) return -1
  let counter = 0
  for (let i = dot + 1; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48
    if (digit < 0 || digit > 9) return -1
    counter = counter * 10 + digit
  }
  return counter <= MAX_COUNTER ? counter : -1
}

/** Largest counter before the clock borrows the next millisecond. */
const MAX_COUNTER = 0xffffffff

export class HybridClock {
  private wall = 0
  private counter = 0
  private readonly clock: () => number

  constructor (clock: () => number) {
    this.clock = clock
  }

  /** A new timestamp for a local write: greater than every earlier one and every observed one. */
  tick (): { wall: number, counter: number } {
    const physical = this.clock()
    if (physical > this.wall) {
      this.wall = physical
      this.counter = 0
    } else if (this.counter >= MAX_COUNTER) {
      this.wall += 1
      this.counter = 0
    } else {
      this.counter += 1
    }
    return { wall: this.wall, counter: this.counter }
  }

  /**
   * Moves the clock past a remote timestamp (already bounded by the caller's
   * clock-skew check), so the next local write orders after it.
   */
  observe (wall: number, counter: number): void {
    if (wall > this.wall || (wall === this.wall && counter > this.counter)) {
      this.wall = wall
      this.counter = counter
    }
  }
}
