// The board: the posts this page shows, newest first, each with its age, a
// countdown and a fade that deepens as its end nears. Every text a person
// wrote goes into the page through textContent only.
import { clip, formatAge, formatRemaining, hueOf } from './format.js'

const MAX_TEXT_CHARS = 280
const MAX_CALLSIGN_CHARS = 24
/** A post stays fully visible until this fraction of its life is left, then fades. */
const FADE_FROM = 0.4
/** Lowest opacity, just before it goes. */
const FADE_FLOOR = 0.22
/** How long the leaving animation runs before the element is removed, ms. */
const LEAVE_MS = 450

function el (tag, className, text) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

/** The characters the post rules refuse (as the server's posts.ts: a text may hold tabs and line breaks, a callsign not). */
const TEXT_CONTROL_RE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u2028\u2029]/u
const CALLSIGN_CONTROL_RE = /[\u0000-\u001F\u007F-\u009F\u2028\u2029]/u

/**
 * Decodes a stored value into `{ text, callsign }`, or undefined when it is
 * not a post (not JSON, no text, control characters). Other nodes may run
 * other code: refuse what the rules refuse, and clip what is too long.
 */
export function decodePost (valueText) {
  let data
  try {
    data = JSON.parse(valueText)
  } catch {
    return undefined
  }
  if (data === null || typeof data !== 'object' || typeof data.text !== 'string') return undefined
  if (TEXT_CONTROL_RE.test(data.text)) return undefined
  if (typeof data.callsign === 'string' && CALLSIGN_CONTROL_RE.test(data.callsign)) return undefined
  const text = clip(data.text.trim(), MAX_TEXT_CHARS)
  if (text === '') return undefined
  const callsign = typeof data.callsign === 'string' ? clip(data.callsign.trim(), MAX_CALLSIGN_CHARS) : ''
  return { text, callsign }
}

export class Board {
  /**
   * @param {{ list: HTMLOListElement, empty: HTMLElement, onChange: (size: number) => void, now: () => number }} init
   */
  constructor (init) {
    this.list = init.list
    this.empty = init.empty
    this.onChange = init.onChange
    this.now = init.now
    /** key -> { post, li, refs } */
    this.posts = new Map()
    /** Keys deleted while this page was open: a late answer must not bring them back. */
    this.gone = new Map()
  }

  get size () {
    return this.posts.size
  }

  /** Adds or refreshes a post: `{ key, text, callsign, createdAt, expiresAt }`. Returns whether it is new. */
  upsert (post) {
    if (this.gone.has(post.key) || post.expiresAt <= this.now()) return false
    const known = this.posts.get(post.key)
    if (known !== undefined) {
      known.post = post
      this.fill(known)
      return false
    }
    const item = this.build(post)
    this.posts.set(post.key, item)
    // Keys sort by creation time: insert before the first older post.
    let before = null
    for (const li of this.list.children) {
      if (li.dataset.key < post.key && !li.classList.contains('leaving')) {
        before = li
        break
      }
    }
    this.list.insertBefore(item.li, before)
    this.fill(item)
    this.changed()
    return true
  }

  /** Removes a post (deleted or expired), with a short fade-out. */
  remove (key, { forget = true } = {}) {
    const item = this.posts.get(key)
    if (forget) this.gone.set(key, this.now() + 10 * 60_000)
    if (item === undefined) return
    this.posts.delete(key)
    item.li.classList.add('leaving')
    item.li.style.setProperty('opacity', '0')
    item.li.setAttribute('aria-hidden', 'true')
    setTimeout(() => item.li.remove(), LEAVE_MS)
    this.changed()
  }

  /** Keeps only the posts whose keys are in `keys` (after a resync). */
  retain (keys) {
    for (const key of [...this.posts.keys()]) {
      if (!keys.has(key)) this.remove(key, { forget: false })
    }
  }

  /** Updates every countdown and fade; removes what has run out. */
  tick () {
    const now = this.now()
    for (const [key, item] of this.posts) {
      if (item.post.expiresAt <= now) this.remove(key, { forget: false })
      else this.fill(item)
    }
    for (const [key, until] of this.gone) {
      if (until <= now) this.gone.delete(key)
    }
  }

  build (post) {
    const li = el('li', 'post')
    li.dataset.key = post.key
    const article = el('article', 'post-card')
    const head = el('header', 'post-head')
    const avatar = el('span', 'avatar')
    avatar.setAttribute('aria-hidden', 'true')
    const author = el('span', 'callsign')
    const age = el('time', 'age')
    head.append(avatar, author, age)
    const text = el('p', 'text')
    const foot = el('footer', 'post-foot')
    const remaining = el('span', 'remaining')
    const life = el('span', 'life')
    life.setAttribute('aria-hidden', 'true')
    const bar = el('span', 'life-bar')
    life.append(bar)
    foot.append(remaining, life)
    article.append(head, text, foot)
    li.append(article)
    return { post, li, refs: { avatar, author, age, text, remaining, bar } }
  }

  fill (item) {
    const { post, li, refs } = item
    const now = this.now()
    const name = post.callsign === '' ? 'anonymous' : post.callsign
    if (refs.author.textContent !== name) {
      refs.author.textContent = name
      refs.author.classList.toggle('anon', post.callsign === '')
      refs.avatar.textContent = post.callsign === '' ? '·' : clip(post.callsign, 1).replace('…', '').toUpperCase()
      li.style.setProperty('--hue', String(post.callsign === '' ? 210 : hueOf(post.callsign)))
    }
    if (refs.text.textContent !== post.text) refs.text.textContent = post.text
    refs.age.textContent = formatAge(now - post.createdAt)
    refs.age.dateTime = new Date(post.createdAt).toISOString()
    const left = Math.max(0, post.expiresAt - now)
    refs.remaining.textContent = `fades in ${formatRemaining(left)}`
    const life = Math.max(1, post.expiresAt - post.createdAt)
    const fraction = Math.min(1, left / life)
    refs.bar.style.setProperty('transform', `scaleX(${fraction.toFixed(4)})`)
    const opacity = FADE_FLOOR + (1 - FADE_FLOOR) * Math.min(1, fraction / FADE_FROM)
    li.style.setProperty('opacity', opacity.toFixed(3))
    li.classList.toggle('ending', fraction < 0.1)
  }

  changed () {
    this.empty.hidden = this.posts.size > 0
    this.onChange(this.posts.size)
  }
}
