// fade's page: wires the form, the board and the status panel to this node.
// The board loads once (keys, then one GET per post) and then follows the
// node's change stream (/v1/watch, Server-Sent Events): no polling.
import { Board, decodePost } from './board.js'
import { countChars, formatLifetime, hostPort, shortId } from './format.js'

const PREFIX = 'fade/'
/** Lifetimes offered, seconds; only those within the node's TTL bounds are shown. */
const TTL_CHOICES = [5, 10, 30, 60, 300, 900, 3600, 21600, 86400, 604800]
const PREFERRED_TTL = 3600
/** The first load shows at most this many of the newest posts. */
const FIRST_LOAD_POSTS = 300
const FETCH_CONCURRENCY = 6
const TICK_MS = 500
const RECONNECT_MS = 3000

const $ = (id) => document.getElementById(id)

/** This node's clock minus ours, ms: countdowns follow the node, whatever the viewer's clock says. */
let clockOffset = 0
const now = () => Date.now() + clockOffset

const board = new Board({
  list: $('posts'),
  empty: $('empty'),
  now,
  onChange: (size) => {
    const text = `${size} ${size === 1 ? 'post' : 'posts'}`
    $('board-count').textContent = text
    $('entries').textContent = text
  }
})

/** Keys of posts made from this page, not announced a second time. */
const ownKeys = new Set()

function announce (text) {
  const region = $('announcer')
  region.textContent = ''
  // A fresh text node after clearing makes screen readers speak it again.
  setTimeout(() => { region.textContent = text }, 50)
}

async function getJson (url) {
  const res = await fetch(url, { headers: { accept: 'application/json' } })
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`)
  return await res.json()
}

/** A key's URL, its slashes escaped too: a key segment `.` or `..` is then no path segment for the browser to resolve. */
function dataUrl (key) {
  return '/v1/data/' + encodeURIComponent(key)
}

/** The shape of the keys fade nodes give posts (`fade/<14-digit ms>-<8 hex>`); other keys under fade/ are not posts. */
const POST_KEY_RE = /^fade\/\d{14}-[0-9a-f]{8}$/

// ---- loading and following the board ----

async function fetchPost (key) {
  const res = await fetch(dataUrl(key))
  if (res.status === 404) return
  if (!res.ok) throw new Error(`GET ${key}: HTTP ${res.status}`)
  const post = decodePost(await res.text())
  if (post === undefined) return
  board.upsert({
    key,
    ...post,
    createdAt: Date.parse(res.headers.get('x-created-at')),
    expiresAt: Date.parse(res.headers.get('x-expires-at'))
  })
}

async function listKeys () {
  const keys = []
  let cursor = null
  do {
    const query = new URLSearchParams({ prefix: PREFIX, limit: '1000' })
    if (cursor !== null) query.set('cursor', cursor)
    const page = await getJson(`/v1/keys?${query}`)
    keys.push(...page.keys.filter(key => POST_KEY_RE.test(key)))
    cursor = page.next_cursor ?? null
  } while (cursor !== null && keys.length < 100_000)
  return keys
}

/** Keys set through the stream while a (re)load runs: the load's snapshot may predate them. */
let arrivedDuringLoad = null

async function loadBoard () {
  arrivedDuringLoad = new Set()
  try {
    const keys = await listKeys()
    // Keys sort by creation time: the newest are last.
    const queue = keys.slice(-FIRST_LOAD_POSTS).reverse()
    // One post that cannot be read (gone meanwhile, refused) costs that post only.
    const worker = async () => {
      for (let key = queue.shift(); key !== undefined; key = queue.shift()) await fetchPost(key).catch(() => {})
    }
    await Promise.all(Array.from({ length: FETCH_CONCURRENCY }, worker))
    board.retain(new Set([...keys, ...arrivedDuringLoad]))
  } finally {
    arrivedDuringLoad = null
  }
}

function onSet (data) {
  if (!POST_KEY_RE.test(data.key)) return
  arrivedDuringLoad?.add(data.key)
  if (typeof data.value !== 'string' || data.encoding !== 'utf8') {
    // Too large for the event (or not text): read it like the first load does.
    fetchPost(data.key).catch(() => {})
    return
  }
  const post = decodePost(data.value)
  if (post === undefined) return
  const added = board.upsert({
    key: data.key,
    ...post,
    createdAt: Date.parse(data.created_at),
    expiresAt: Date.parse(data.expires_at)
  })
  if (added && !ownKeys.has(data.key)) announce(`New post from ${post.callsign || 'anonymous'}: ${post.text}`)
}

function setLive (state, text) {
  const el = $('live')
  el.dataset.state = state
  el.textContent = text
}

function followBoard () {
  const source = new EventSource(`/v1/watch?prefix=${encodeURIComponent(PREFIX)}`)
  source.addEventListener('open', () => {
    setLive('live', 'live')
    // Also after a reconnect: whatever changed while we were away.
    loadBoard().catch(() => setLive('error', 'could not load the board'))
  })
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) {
      // The node refused the stream (e.g. shutting down): try again later ourselves.
      setLive('offline', 'offline, retrying…')
      setTimeout(followBoard, RECONNECT_MS)
    } else {
      setLive('offline', 'reconnecting…')
    }
  })
  const parse = (handler) => (event) => {
    let data
    try {
      data = JSON.parse(event.data)
    } catch {
      return
    }
    if (data !== null && typeof data.key === 'string' && data.key.startsWith(PREFIX)) handler(data)
  }
  source.addEventListener('set', parse(onSet))
  source.addEventListener('delete', parse((data) => board.remove(data.key)))
  source.addEventListener('expire', parse((data) => board.remove(data.key, { forget: false })))
}

// ---- status panel ----

function renderStatus (status) {
  $('node-id').textContent = shortId(status.peer_id)
  $('node-id').title = status.peer_id
  $('network').textContent = status.network
  const peers = Array.isArray(status.peers) ? status.peers : []
  $('peer-count').textContent = String(peers.length)
  const list = $('peers')
  list.replaceChildren(...peers.map((peer) => {
    const li = document.createElement('li')
    const id = document.createElement('code')
    id.textContent = shortId(peer.peer_id)
    id.title = peer.peer_id
    const where = document.createElement('span')
    where.className = 'peer-addr'
    where.textContent = (peer.addresses ?? []).map(hostPort).join(', ')
    li.append(id, where)
    return li
  }))
  $('no-peers').hidden = peers.length > 0
}

function followStatus () {
  const source = new EventSource('/fade/events')
  source.addEventListener('status', (event) => {
    try {
      renderStatus(JSON.parse(event.data))
    } catch {}
  })
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) setTimeout(followStatus, RECONNECT_MS)
  })
}

// ---- the form ----

function setUpForm (config) {
  const form = $('compose')
  const text = $('text')
  const callsign = $('callsign')
  const ttl = $('ttl')
  const counter = $('counter')
  const error = $('form-error')
  const note = $('form-note')
  const submit = $('submit')
  const maxChars = config.max_text_chars

  const choices = TTL_CHOICES.filter((s) => s >= config.min_ttl && s <= config.max_ttl)
  if (choices.length === 0) choices.push(config.min_ttl)
  const preferred = choices.includes(PREFERRED_TTL) ? PREFERRED_TTL : choices.filter((s) => s <= PREFERRED_TTL).pop() ?? choices[0]
  ttl.replaceChildren(...choices.map((seconds) => {
    const option = document.createElement('option')
    option.value = String(seconds)
    option.textContent = formatLifetime(seconds)
    option.selected = seconds === preferred
    return option
  }))

  $('callsign-hint').textContent = `Up to ${config.max_callsign_chars} characters.`
  try {
    callsign.value = localStorage.getItem('fade.callsign') ?? ''
  } catch {}

  const updateCounter = () => {
    const n = countChars(text.value.trim())
    counter.textContent = n > maxChars ? `${n} / ${maxChars} · ${n - maxChars} too many` : `${n} / ${maxChars}`
    counter.dataset.state = n > maxChars ? 'over' : n > maxChars - 20 ? 'near' : ''
  }
  text.addEventListener('input', updateCounter)
  updateCounter()

  text.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault()
      form.requestSubmit()
    }
  })

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    error.textContent = ''
    note.textContent = ''
    submit.disabled = true
    form.setAttribute('aria-busy', 'true')
    try {
      const res = await fetch('/fade/posts', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ text: text.value, callsign: callsign.value, ttl: Number(ttl.value) })
      })
      let body = null
      try {
        body = await res.json()
      } catch {}
      if (!res.ok) {
        error.textContent = body?.message ?? `The node refused the post (HTTP ${res.status}).`
        text.focus()
        return
      }
      ownKeys.add(body.key)
      board.upsert({
        key: body.key,
        text: body.text,
        callsign: body.callsign,
        createdAt: Date.parse(body.created_at),
        expiresAt: Date.parse(body.expires_at)
      })
      try {
        localStorage.setItem('fade.callsign', callsign.value.trim())
      } catch {}
      text.value = ''
      updateCounter()
      note.textContent = `Posted. It fades in ${formatLifetime(Number(ttl.value))}.`
      text.focus()
    } catch {
      error.textContent = 'Could not reach this node. Is the fade server still running?'
    } finally {
      submit.disabled = false
      form.removeAttribute('aria-busy')
    }
  })
}

// ---- start ----

async function loadConfig () {
  for (let attempt = 0; ; attempt++) {
    try {
      return await getJson('/fade/config')
    } catch {
      setLive('offline', 'cannot reach the node, retrying…')
      await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 500 * 2 ** attempt)))
    }
  }
}

const config = await loadConfig()
clockOffset = Date.parse(config.server_time) - Date.now()
renderStatus({ peer_id: config.peer_id, network: config.network, peers: [] })
setUpForm(config)
followStatus()
followBoard()
setInterval(() => board.tick(), TICK_MS)
document.documentElement.dataset.ready = 'true'
