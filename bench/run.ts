/**
 * Runs the benchmark suites, prints a table and writes the results as JSON.
 *
 *   npm run bench                      # full run (several minutes)
 *   npm run bench -- --quick           # smoke run: small counts, well under a minute
 *   npm run bench -- --only store,http # some suites only
 *   npm run bench -- --out file.json   # default bench/results/latest.json
 *
 * Each suite runs in a fresh process, one after the other (they would
 * otherwise compete for the CPU), and reports figures that each carry a
 * baseline measured in the same run, the ratio, and the targets met or
 * missed. Everything stays on loopback, with mDNS off. A suite that fails
 * is reported and makes the exit code non-zero; the others still run.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runChild } from './lib/child.ts'
import { formatNotes, formatTable } from './lib/figures.ts'
import type { BenchReport, Figure } from './lib/figures.ts'

const here = fileURLToPath(new URL('.', import.meta.url))

/** In run order. `execArgv`: flags the suite's process needs. */
const SUITES: Array<{ name: string, execArgv?: string[] }> = [
  { name: 'store', execArgv: ['--expose-gc'] },
  { name: 'memory' },
  { name: 'expiry' },
  { name: 'replication' },
  { name: 'replication-processes' },
  { name: 'sync' },
  { name: 'http' }
]

function parseArgs (argv: string[]): { quick: boolean, only?: string[], out: string } {
  let quick = false
  let only: string[] | undefined
  let out = join(here, 'results', 'latest.json')
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--quick') quick = true
    else if (arg === '--only') only = (argv[++i] ?? '').split(',').filter(Boolean)
    else if (arg === '--out') out = argv[++i] ?? out
    else throw new Error(`unknown argument ${arg} (expected --quick, --only a,b or --out file)`)
  }
  const unknown = only?.filter(name => !SUITES.some(s => s.name === name)) ?? []
  if (unknown.length > 0) throw new Error(`unknown suite ${unknown.join(', ')}; suites: ${SUITES.map(s => s.name).join(', ')}`)
  return { quick, only, out }
}

async function main (): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  // Every suite and node process loads (and strips the types of) the same
  // modules: Node's compile cache, inherited by the children, saves a third
  // of each process's start-up CPU.
  process.env.NODE_COMPILE_CACHE ??= join(tmpdir(), 'repram-bench-compile-cache')
  const started = Date.now()
  const loadStart = loadavg()[0]
  const figures: Figure[] = []
  const failures: BenchReport['failures'] = []
  for (const suite of SUITES) {
    if (args.only !== undefined && !args.only.includes(suite.name)) continue
    const t = Date.now()
    process.stderr.write(`== ${suite.name}\n`)
    try {
      const result = await runChild<Figure[]>(join(here, 'suites', `${suite.name}.ts`), args.quick ? ['--quick'] : [], {
        execArgv: suite.execArgv,
        timeoutMs: args.quick ? 180_000 : 900_000,
        label: `suite ${suite.name}`
      })
      figures.push(...result)
      process.stderr.write(`== ${suite.name}: ${result.length} figures in ${((Date.now() - t) / 1000).toFixed(1)} s\n`)
    } catch (err) {
      failures.push({ suite: suite.name, error: (err as Error).message })
      process.stderr.write(`== ${suite.name} FAILED: ${(err as Error).message}\n`)
    }
  }
  const cpu = cpus()
  const report: BenchReport = {
    date: new Date(started).toISOString(),
    mode: args.quick ? 'quick' : 'full',
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    durationMs: Date.now() - started,
    machine: {
      cores: cpu.length,
      cpuModel: cpu[0]?.model ?? 'unknown',
      memoryBytes: totalmem(),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      loadAverage: { start: loadStart, end: loadavg()[0] }
    },
    figures,
    failures
  }
  mkdirSync(dirname(args.out), { recursive: true })
  writeFileSync(args.out, JSON.stringify(report, null, 2) + '\n')

  const m = report.machine
  process.stdout.write([
    '',
    `${report.mode} run, ${report.date}, ${(report.durationMs / 1000).toFixed(0)} s`,
    `${m.cores} cores, ${m.cpuModel}, Node ${m.node}, load average ${m.loadAverage.start.toFixed(1)} -> ${m.loadAverage.end.toFixed(1)}`,
    '',
    formatTable(figures),
    '',
    formatNotes(figures),
    '',
    ...failures.map(f => `FAILED ${f.suite}: ${f.error}`),
    `results: ${relative(process.cwd(), args.out) || args.out}`,
    ''
  ].join('\n'))
  return failures.length > 0 ? 1 : 0
}

main().then(code => { process.exitCode = code }, (err: Error) => {
  process.stderr.write(`${err.message}\n`)
  process.exitCode = 2
})
