/**
 * A tiny PNG decoder for checking screenshots: 8-bit greyscale, RGB or RGBA,
 * not interlaced (what Chromium writes). Enough to tell a page from a blank
 * one; not a general decoder.
 */
import { inflateSync } from 'node:zlib'

export interface DecodedPng {
  width: number
  height: number
  /** Bytes per pixel: 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA). */
  channels: number
  /** Unfiltered pixel rows, `width * channels` bytes each. */
  pixels: Uint8Array
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 }

function paeth (a: number, b: number, c: number): number {
  const p = a + b - c
  const pa = Math.abs(p - a)
  const pb = Math.abs(p - b)
  const pc = Math.abs(p - c)
  if (pa <= pb && pa <= pc) return a
  return pb <= pc ? b : c
}

export function decodePng (file: Uint8Array): DecodedPng {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength)
  if (!buf.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG file')
  let offset = 8
  let width = 0
  let height = 0
  let channels = 0
  const idat: Buffer[] = []
  while (offset < buf.length) {
    const length = buf.readUInt32BE(offset)
    const type = buf.toString('latin1', offset + 4, offset + 8)
    const data = buf.subarray(offset + 8, offset + 8 + length)
    offset += 12 + length
    if (type === 'IHDR') {
      width = data.readUInt32BE(0)
      height = data.readUInt32BE(4)
      const bitDepth = data[8]
      const colourType = data[9]
      const interlace = data[12]
      channels = CHANNELS[colourType] ?? 0
      if (bitDepth !== 8 || channels === 0 || interlace !== 0) {
        throw new Error(`unsupported PNG: bit depth ${bitDepth}, colour type ${colourType}, interlace ${interlace}`)
      }
    } else if (type === 'IDAT') {
      idat.push(data)
    } else if (type === 'IEND') {
      break
    }
  }
  if (width === 0 || height === 0) throw new Error('PNG without IHDR')
  const raw = inflateSync(Buffer.concat(idat))
  const stride = width * channels
  if (raw.length < height * (stride + 1)) throw new Error('PNG image data is truncated')
  const pixels = new Uint8Array(height * stride)
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]
    const src = y * (stride + 1) + 1
    const row = y * stride
    const prev = row - stride
    for (let x = 0; x < stride; x++) {
      const left = x >= channels ? pixels[row + x - channels] : 0
      const up = y > 0 ? pixels[prev + x] : 0
      const upLeft = y > 0 && x >= channels ? pixels[prev + x - channels] : 0
      let value = raw[src + x]
      if (filter === 1) value += left
      else if (filter === 2) value += up
      else if (filter === 3) value += (left + up) >> 1
      else if (filter === 4) value += paeth(left, up, upLeft)
      else if (filter !== 0) throw new Error(`unknown PNG filter ${filter} on row ${y}`)
      pixels[row + x] = value & 0xff
    }
  }
  return { width, height, channels, pixels }
}

/** How many distinct colours the image has, and the share of the commonest one (0..1). */
export function colourStats (png: DecodedPng): { distinct: number, dominantShare: number } {
  const counts = new Map<number, number>()
  const { pixels, channels } = png
  for (let i = 0; i < pixels.length; i += channels) {
    let colour = 0
    for (let c = 0; c < Math.min(channels, 3); c++) colour = colour * 256 + pixels[i + c]
    counts.set(colour, (counts.get(colour) ?? 0) + 1)
  }
  let top = 0
  for (const n of counts.values()) top = Math.max(top, n)
  return { distinct: counts.size, dominantShare: top / (png.width * png.height) }
}
