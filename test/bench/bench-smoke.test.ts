/**
 * The benchmark harness in smoke mode, run as a real process: every figure
 * comes out with a baseline measured in the same run and the ratio, and the
 * JSON describes the machine. Speed is not asserted: this machine may be
 * busy, and a missed target is a result, not a failure.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BenchReport } from '../../bench/lib/figures.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const DEADLINE_MS = 200_000

const REPLICATION_IDS = ['latency.p50.3nodes', 'latency.p99.3nodes', 'throughput.3nodes', 'latency.p50.10nodes', 'latency.p99.10nodes']
const EXPECTED_IDS = [
  ...['put', 'get-hit', 'get-hit-value-read', 'get-miss'].flatMap(op => [`store.${op}.vs-map`, `store.${op}.vs-ttlcache`]),
  'store.put.vs-ttlcache-copy',
  'memory.bytes-per-entry',
  'expiry.cpu', 'expiry.lag.p99', 'expiry.lag.max', 'expiry.stall.max',
  ...REPLICATION_IDS.map(id => `replication.${id}`),
  ...REPLICATION_IDS.map(id => `replication-processes.${id}`),
  'sync.join', 'sync.in-sync-round',
  'http.get', 'http.get-many', 'http.put'
]

interface Run { code: number | null, stdout: string, stderr: string }

function runQuickBench (out: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bench/run.ts', '--quick', '--out', out], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => {
      // the whole group: the bench's own children (suites, nodes) too
      try { process.kill(-child.pid!, 'SIGKILL') } catch {}
      reject(new Error(`the quick bench did not finish within ${DEADLINE_MS} ms\n${stderr.slice(-3000)}`))
    }, DEADLINE_MS)
    child.once('error', err => { clearTimeout(timer); reject(err) })
    child.once('close', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

test('npm run bench -- --quick reports every figure with a baseline and a ratio', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'repram-bench-'))
  try {
    const out = join(dir, 'quick.json')
    const run = await runQuickBench(out)
    assert.is(run.code, 0, `the quick bench failed:\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`)

    const report = JSON.parse(readFileSync(out, 'utf8')) as BenchReport
    assert.is(report.mode, 'quick')
    assert.equal(report.failures, [])
    assert.ok(!Number.isNaN(Date.parse(report.date)), 'date is an ISO timestamp')
    assert.ok(report.machine.cores >= 1, 'cores')
    assert.type(report.machine.cpuModel, 'string')
    assert.ok(report.machine.cpuModel.length > 0, 'CPU model')
    assert.match(report.machine.node, /^v\d+\./)

    const ids = report.figures.map(f => f.id)
    assert.equal([...ids].sort(), [...EXPECTED_IDS].sort(), 'the figures reported')
    for (const f of report.figures) {
      assert.ok(Number.isFinite(f.value), `${f.id}: value ${f.value}`)
      assert.ok(f.unit.length > 0, `${f.id}: unit`)
      assert.ok(f.baseline.label.length > 0, `${f.id}: baseline label`)
      assert.ok(Number.isFinite(f.baseline.value) && f.baseline.value > 0, `${f.id}: baseline ${f.baseline.value}`)
      assert.ok(Number.isFinite(f.ratio), `${f.id}: ratio ${f.ratio}`)
      assert.ok(Math.abs(f.ratio - f.value / f.baseline.value) <= 1e-9 * Math.abs(f.ratio), `${f.id}: ratio is value / baseline`)
      for (const t of f.targets) assert.type(t.met, 'boolean', `${f.id}: target ${t.text}`)
      // the table shows each figure next to its baseline
      assert.ok(run.stdout.includes(f.label), `${f.id}: in the printed table`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
