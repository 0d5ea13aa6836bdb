/**
 * Test runner: runs every `*.test.ts` file under test/ in its own Node
 * process (libp2p nodes, servers and namespaces stay isolated per file), at
 * most `TEST_CONCURRENCY` at a time, each with a deadline. Each file is a uvu
 * suite; its totals are read from its output. Prints the closing line
 * "N passed, N failed, N skipped" and exits non-zero on any failure, on a
 * file that timed out or crashed, and when no test ran at all.
 *
 * Usage: npm test [-- filter...]   (filters match file paths)
 */
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const testDir = join(root, 'test')
const filters = process.argv.slice(2)
const concurrency = Number(process.env.TEST_CONCURRENCY ?? 2)
const fileTimeoutMs = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 240_000)

function findTests (dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...findTests(path))
    else if (name.endsWith('.test.ts')) out.push(path)
  }
  return out
}

interface FileResult { file: string, passed: number, failed: number, skipped: number, ok: boolean, output: string, ms: number }

function runFile (file: string): Promise<FileResult> {
  const started = Date.now()
  return new Promise(resolve => {
    const child = spawn(process.execPath, [file], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true
    })
    let output = ''
    child.stdout.on('data', (d: Buffer) => { output += d.toString() })
    child.stderr.on('data', (d: Buffer) => { output += d.toString() })
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      try { process.kill(-child.pid!, 'SIGKILL') } catch {}
    }, fileTimeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      // uvu's summary closes the output: read its last occurrence.
      const num = (label: string): number => Number([...output.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)\\s*$`, 'gm'))].pop()?.[1] ?? 0)
      const total = num('Total')
      const passed = num('Passed')
      const skipped = num('Skipped')
      // uvu counts skipped tests apart from Total (a file of only skips has Total 0).
      let failed = Math.max(0, total - passed)
      if (timedOut) output += `\n[runner] killed after ${fileTimeoutMs} ms\n`
      const ok = code === 0 && !timedOut && total + skipped > 0 && failed === 0
      if (!ok && failed === 0) failed = 1
      resolve({ file, passed, failed, skipped, ok, output, ms: Date.now() - started })
    })
  })
}

const files = findTests(testDir).filter(f => filters.length === 0 || filters.some(x => f.includes(x)))
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`)
  process.exit(1)
}

const results: FileResult[] = []
const queue = [...files]
async function worker (): Promise<void> {
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    const r = await runFile(file)
    results.push(r)
    const status = r.ok ? 'ok  ' : 'FAIL'
    console.log(`${status} ${relative(root, file)}  (${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped, ${(r.ms / 1000).toFixed(1)} s)`)
    if (!r.ok || process.env.TEST_VERBOSE === '1') console.log(r.output.split('\n').map(l => '     | ' + l).join('\n'))
  }
}
await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker))

const passed = results.reduce((n, r) => n + r.passed, 0)
const failed = results.reduce((n, r) => n + r.failed, 0)
const skipped = results.reduce((n, r) => n + r.skipped, 0)
console.log('')
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`)
if (passed === 0) console.error('no test passed: treating the run as failed')
process.exit(failed > 0 || passed === 0 ? 1 : 0)
