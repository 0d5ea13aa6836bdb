/**
 * Figure 5: memory per live entry. A `MemoryStore` with 1,000,000 entries
 * (16-byte keys, 64-byte values) against a plain `Map<string, Uint8Array>`
 * holding the same data, each in a fresh `--expose-gc` process
 * (bench/workers/memory.ts). The figure is the heap growth per entry beyond
 * the 80 bytes of key and value themselves: what the structure, its index
 * and the JS string and typed-array headers cost.
 */
import { fileURLToPath } from 'node:url'
import { runChild } from '../lib/child.ts'
import { figure } from '../lib/figures.ts'
import { progress, suiteMain } from '../lib/suite.ts'
import type { Figure } from '../lib/figures.ts'
import type { SuiteOptions } from '../lib/suite.ts'

const SUITE = 'memory'
const WORKER = fileURLToPath(new URL('../workers/memory.ts', import.meta.url))
const PAYLOAD_BYTES = 16 + 64

async function measure (kind: 'store' | 'map', n: number): Promise<number> {
  const { bytesPerEntry } = await runChild<{ bytesPerEntry: number }>(WORKER, [kind, String(n)], { execArgv: ['--expose-gc'], timeoutMs: 180_000, label: `memory ${kind}` })
  return bytesPerEntry - PAYLOAD_BYTES
}

async function run ({ quick }: SuiteOptions): Promise<Figure[]> {
  const n = quick ? 100_000 : 1_000_000
  progress(SUITE, `${n} entries: MemoryStore, then Map`)
  const store = await measure('store', n)
  const map = await measure('map', n)
  return [figure({
    id: 'memory.bytes-per-entry',
    suite: SUITE,
    label: `Heap per live entry beyond key and value, ${n.toLocaleString('en-US')} entries`,
    unit: 'B',
    better: 'lower',
    value: store,
    baseline: { label: 'Map<string, Uint8Array>', value: map },
    target: 200,
    notes: `heapUsed + arrayBuffers growth after full GCs, minus ${PAYLOAD_BYTES} B of key and value per entry; keys 16 B, values 64 B`
  })]
}

suiteMain(run)
