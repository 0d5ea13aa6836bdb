// Formatting helpers for the board: pure functions, no DOM.

/** Code points, as a person counts characters (an emoji is one). */
export function countChars (text) {
  let n = 0
  for (const _ of text) n++
  return n
}

/** The first `max` code points of `text`. */
export function clip (text, max) {
  let out = ''
  let n = 0
  for (const ch of text) {
    if (n++ === max) return out + '…'
    out += ch
  }
  return out
}

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 days ago". */
export function formatAge (ms) {
  const s = Math.floor(Math.max(0, ms) / 1000)
  if (s < 5) return 'just now'
  if (s < 60) return `${s} s ago`
  const min = Math.floor(s / 60)
  if (min < 60) return `${min} min ago`
  const h = Math.floor(min / 60)
  if (h < 48) return `${h} h ago`
  return `${Math.floor(h / 24)} days ago`
}

/** A countdown: "0:07", "14:59", "5 h 02 min", "6 d 23 h". */
export function formatRemaining (ms) {
  const s = Math.max(0, Math.ceil(ms / 1000))
  if (s < 3600) return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
  const min = Math.floor(s / 60)
  const h = Math.floor(min / 60)
  if (h < 24) return `${h} h ${String(min % 60).padStart(2, '0')} min`
  return h % 24 === 0 ? `${h / 24} d` : `${Math.floor(h / 24)} d ${h % 24} h`
}

/** A lifetime in words, for the TTL menu: "10 seconds", "15 minutes", "1 hour", "1 week". */
export function formatLifetime (seconds) {
  const units = [[604800, 'week'], [86400, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']]
  for (const [size, name] of units) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size
      return `${n} ${name}${n === 1 ? '' : 's'}`
    }
  }
  return `${seconds} seconds`
}

/** The recognisable tail of a peer id: "…x7Kq2mPd". */
export function shortId (peerId) {
  return peerId.length > 10 ? `…${peerId.slice(-8)}` : peerId
}

/** "/ip4/10.0.0.2/tcp/4001/p2p/…" -> "10.0.0.2:4001" (or the multiaddr itself when it has another shape). */
export function hostPort (multiaddr) {
  const m = /^\/(ip4|ip6|dns4|dns6|dns)\/([^/]+)\/tcp\/(\d+)/.exec(multiaddr)
  if (m === null) return multiaddr
  return m[1] === 'ip6' ? `[${m[2]}]:${m[3]}` : `${m[2]}:${m[3]}`
}

/** A stable hue (0-359) for a callsign, so one author's posts share a colour. */
export function hueOf (text) {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 16777619)
  }
  return (h >>> 0) % 360
}
