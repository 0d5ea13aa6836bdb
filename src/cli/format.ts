/** Pure formatting helpers for human-readable CLI output. */
import { utf8Text } from '../util/utf8.ts'

/** `1536` -> `1.5 KiB`. */
export function formatBytes (bytes: number): string {
  if (!Number.isFinite(bytes)) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}

/** `93_000` -> `1m33s`, to the nearest second; sub-second values in ms. */
export function formatDuration (ms: number): string {
  if (!Number.isFinite(ms)) return '-'
  if (ms < 0) return '-' + formatDuration(-ms)
  if (ms < 1000) return `${Math.round(ms)}ms`
  // Rounded, not floored: a 60 s TTL read a moment later still shows as 1m0s.
  let s = Math.round(ms / 1000)
  const d = Math.floor(s / 86_400); s -= d * 86_400
  const h = Math.floor(s / 3600); s -= h * 3600
  const m = Math.floor(s / 60); s -= m * 60
  if (d > 0) return `${d}d${h}h`
  if (h > 0) return `${h}h${m}m`
  if (m > 0) return `${m}m${s}s`
  return `${s}s`
}

/** `12D3KooWAbCdEf…` -> `12D3…wXyZ12`: enough to tell peers apart in a table. */
export function shortPeerId (peerId: string | undefined): string {
  if (peerId === undefined || peerId === '') return '-'
  return peerId.length <= 16 ? peerId : `${peerId.slice(0, 4)}…${peerId.slice(-6)}`
}

/** `HH:MM:SS` in local time, for log lines. */
export function clockTime (date: Date = new Date()): string {
  return date.toTimeString().slice(0, 8)
}

/** Left-aligned columns separated by two spaces; the header row first. */
export function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i])).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

/** A short preview of a value for logs: text when it is printable UTF-8, else its size. */
export function previewValue (bytes: Uint8Array, max = 40): string {
  const text = utf8Text(bytes)
  if (text === undefined) return `<${formatBytes(bytes.byteLength)} binary>`
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text)) return `<${formatBytes(bytes.byteLength)} binary>`
  const oneLine = text.replace(/\s+/g, ' ')
  return JSON.stringify(oneLine.length > max ? oneLine.slice(0, max) + '…' : oneLine)
}

/** Epoch ms of a time given as epoch ms (number or digits) or an ISO 8601 string, as the HTTP API sends it. */
export function parseTime (value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (typeof value !== 'string' || value.trim() === '') return undefined
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Date.parse(value)
  return Number.isFinite(n) ? n : undefined
}
