/**
 * Runs `examples/fade/server.ts --json` as a child process and waits for its
 * ready line `{url, peerId, multiaddrs}`. Outside a test network namespace
 * mDNS is always off: `--no-mdns` and `FADE_MDNS=0` both.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess, SpawnOptions } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const FADE_SERVER = fileURLToPath(new URL('../../examples/fade/server.ts', import.meta.url))

export interface FadeProcess {
  url: string
  peerId: string
  multiaddrs: string[]
  child: ChildProcess
  /** stdout and stderr so far, for failure messages. */
  output: () => string
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed). Idempotent. */
  stop: (graceMs?: number) => Promise<number | null>
}

export interface StartFadeOptions {
  /** How to start the process (e.g. a LAN host's `spawn`). @default child_process.spawn */
  spawn?: (command: string, args: string[], opts: SpawnOptions) => ChildProcess
  /** Extra environment. */
  env?: Record<string, string>
  /** Keep mDNS as the flags say. Only with `spawn` of a test network namespace host. @default false */
  allowMdns?: boolean
  /** Deadline for the ready line, ms. @default 30000 */
  timeout?: number
}

export async function startFade (args: string[], opts: StartFadeOptions = {}): Promise<FadeProcess> {
  if (opts.allowMdns === true && opts.spawn === undefined) {
    throw new Error('mDNS only runs inside a test network namespace: pass the LAN host\'s spawn')
  }
  const run = opts.spawn ?? ((command: string, argv: string[], o: SpawnOptions) => spawn(command, argv, o))
  const safety = opts.allowMdns === true ? [] : ['--no-mdns']
  const env: Record<string, string | undefined> = { ...process.env, ...opts.env }
  if (opts.allowMdns !== true) env.FADE_MDNS = '0'
  const child = run(process.execPath, [FADE_SERVER, '--json', ...safety, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env
  })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { output += d.toString() })

  const exited = new Promise<number | null>(resolve => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode)
    else child.once('exit', code => resolve(code))
  })

  let stopping: Promise<number | null> | undefined
  const stop = (graceMs = 10_000): Promise<number | null> => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      child.kill('SIGTERM')
      let timer: NodeJS.Timeout | undefined
      const killed = new Promise<null>(resolve => {
        timer = setTimeout(() => {
          child.kill('SIGKILL')
          resolve(null)
        }, graceMs)
      })
      const code = await Promise.race([exited, killed])
      clearTimeout(timer)
      await exited
      return code
    })()
    return stopping
  }

  const timeout = opts.timeout ?? 30_000
  try {
    const ready = await new Promise<{ url: string, peerId: string, multiaddrs: string[] }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fade server not ready within ${timeout} ms; output:\n${output}`)), timeout)
      const onData = (): void => {
        const line = output.split('\n').find(l => l.startsWith('{"url"'))
        if (line === undefined) return
        clearTimeout(timer)
        child.stdout?.off('data', onData)
        resolve(JSON.parse(line))
      }
      child.stdout?.on('data', onData)
      void exited.then(code => {
        clearTimeout(timer)
        reject(new Error(`fade server exited with ${code} before it was ready; output:\n${output}`))
      })
    })
    return { ...ready, child, output: () => output, stop }
  } catch (err) {
    await stop(2000)
    throw err
  }
}

/** GET `path` from a fade server as JSON. */
export async function getJson<T = any> (base: string, path: string): Promise<T> {
  const res = await fetch(new URL(path, base))
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`)
  return await res.json() as T
}

/** POST a post through the fade endpoint; returns status and JSON body. */
export async function postFade (base: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number, body: any, headers: Headers }> {
  const res = await fetch(new URL('/fade/posts', base), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = text
  }
  return { status: res.status, body: json, headers: res.headers }
}
