/**
 * The published package works for a consumer: build, `npm pack`, install the
 * tarball into a fresh app, and import `repram` (and `repram/http`) from it
 * in a real process that starts two nodes and replicates a value. The build
 * starts from an empty `dist/`: output of a module since removed from `src/`
 * must not be published.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { access, mkdir, mkdtemp, rm, writeFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))
const test = suite('package')
let dir = ''

test.after(async () => { if (dir !== '') await rm(dir, { recursive: true, force: true }) })

test('npm pack -> npm install -> import { RepramNode } from "repram" works in a consumer app', async () => {
  dir = await mkdtemp(join(tmpdir(), 'repram-consumer-'))
  // what an earlier build of a module since removed would have left behind
  await mkdir(join(root, 'dist', 'removed'), { recursive: true })
  await writeFile(join(root, 'dist', 'removed', 'module.js'), 'export {}\n')
  await run('npm', ['run', 'build'], { cwd: root, timeout: 120_000 })
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: root, timeout: 120_000 })
  const [{ filename: tarball, files }] = JSON.parse(stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
  assert.ok((await readdir(dir)).includes(tarball), `tarball ${tarball} written`)
  // every packed module is the build of a source file that exists now
  const modules = files.map(f => f.path).filter(p => p.endsWith('.js'))
  assert.ok(modules.includes('dist/index.js'), 'dist/index.js packed')
  for (const path of modules) {
    assert.ok(path.startsWith('dist/'), `${path} is build output`)
    await access(join(root, 'src', path.slice('dist/'.length).replace(/\.js$/, '.ts'))).catch(() => {
      assert.unreachable(`${path} is packed but src has no ${path.slice('dist/'.length).replace(/\.js$/, '.ts')}`)
    })
  }
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', private: true }))
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(dir, tarball)], { cwd: dir, timeout: 240_000 })
  await writeFile(join(dir, 'app.mjs'), `
    import { RepramNode, InvalidTtlError } from 'repram'
    import { createHttpHandler } from 'repram/http'
    const opts = { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false }
    const a = new RepramNode(opts); await a.start()
    const b = new RepramNode({ ...opts, bootstrap: [a.multiaddrs[0]] }); await b.start()
    await a.put('k', 'from the package', { ttl: 60000 })
    const deadline = Date.now() + 10000
    let e
    while ((e = await b.get('k')) === undefined && Date.now() < deadline) await new Promise(r => setTimeout(r, 20))
    console.log(JSON.stringify({ value: new TextDecoder().decode(e.value), handler: typeof createHttpHandler, error: typeof InvalidTtlError }))
    await Promise.all([a.stop(), b.stop()])
  `)
  const out = await run(process.execPath, ['app.mjs'], { cwd: dir, timeout: 60_000 })
  assert.equal(JSON.parse(out.stdout.trim()), { value: 'from the package', handler: 'function', error: 'function' })
})

test.run()
