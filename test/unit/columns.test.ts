/**
 * Columns (`src/store/columns.ts`): typed arrays that grow in place within
 * a reservation, keep their contents, zero what is new, and fall back to
 * copying when outgrown or when no address space can be reserved.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { column, growColumn, grownLength } from '../../src/store/columns.ts'

test('a new column is zeroed and reserves room for its maximum length', () => {
  const a = column(Float64Array, 10, 1000)
  assert.is(a.length, 10)
  assert.ok(a.every(x => x === 0))
  const buffer = a.buffer as ArrayBuffer
  assert.ok(buffer.resizable)
  assert.is(buffer.byteLength, 80, 'memory for the length only')
  assert.is(buffer.maxByteLength, 8000)
})

test('growing within the reservation keeps the buffer and the contents, and zeroes the new elements', () => {
  let a = column(Uint32Array, 4, 100)
  a.set([1, 2, 3, 4])
  const buffer = a.buffer
  a = growColumn(Uint32Array, a, 50)
  assert.is(a.length, 50)
  assert.is(a.buffer, buffer, 'grown in place')
  assert.equal(Array.from(a.subarray(0, 4)), [1, 2, 3, 4])
  assert.ok(a.subarray(4).every(x => x === 0))
})

test('growing past the reservation, or a plain array, copies the contents into a new column', () => {
  for (const start of [column(Float64Array, 3, 3), new Float64Array(3)]) {
    start.set([0.5, -1, 1e300])
    const grown = growColumn(Float64Array, start, 10)
    assert.is.not(grown.buffer, start.buffer)
    assert.equal(Array.from(grown), [0.5, -1, 1e300, 0, 0, 0, 0, 0, 0, 0])
    assert.ok((grown.buffer as ArrayBuffer).resizable, 'the copy has room to grow in place again')
  }
})

test('grownLength adds a quarter, at least 1,024', () => {
  assert.is(grownLength(1), 1025)
  assert.is(grownLength(8192), 10240)
  assert.is(grownLength(1_000_001), 1_250_001)
})

test('under an address-space limit the reservation is refused and a store still fills (grows by copying)', () => {
  const store = fileURLToPath(new URL('../../src/store/memory-store.ts', import.meta.url))
  // maxEntries of 100 million asks for about 10 GB of address space; the limit is 6 GB.
  const script = `
    const { MemoryStore } = await import(${JSON.stringify(store)})
    const s = new MemoryStore({ clock: () => 1000, maxEntries: 100_000_000, maxBytes: 2 ** 40 })
    for (let i = 0; i < 5000; i++) s.apply({ key: 'k' + i, value: new Uint8Array([i & 255]), expiresAt: 10_000 + i, wall: 1, counter: i, origin: 'o', guardUntil: 0 })
    let ok = 0
    for (let i = 0; i < 5000; i++) if (s.get('k' + i)?.value[0] === (i & 255) && s.get('k' + i).expiresAt === 10_000 + i) ok++
    console.log(JSON.stringify({ ok, size: s.size, reserved: s.meta.buffer.maxByteLength }))
  `
  const run = spawnSync('sh', ['-c', 'ulimit -v 6000000 && exec "$0" --input-type=module -e "$1"', process.execPath, script], { encoding: 'utf8', timeout: 60_000 })
  assert.is(run.status, 0, run.stderr)
  const out = JSON.parse(run.stdout)
  assert.equal({ ok: out.ok, size: out.size }, { ok: 5000, size: 5000 })
  assert.ok(out.reserved < 2 ** 30, `the metadata reserved ${out.reserved} bytes, not the refused ~10 GB`)
})

test.run()
