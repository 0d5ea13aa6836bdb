/**
 * Serves the web client: the files of one folder, read once at start (a
 * handful of small files), so requests never touch the disk and no request
 * path can reach outside the folder.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { extname, join } from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8'
}

/**
 * The page may only load its own files and talk to its own node. Inline
 * scripts and handlers are refused too, as a second line of defence behind
 * rendering user text with `textContent`.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'"
].join('; ')

interface StaticFile { body: Buffer, type: string }

function load (dir: string, prefix: string, out: Map<string, StaticFile>): void {
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.')) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) load(path, `${prefix}${name}/`, out)
    else out.set(`${prefix}${name}`, { body: readFileSync(path), type: TYPES[extname(name)] ?? 'application/octet-stream' })
  }
}

/** Returns a handler that answers GET/HEAD for the files of `dir` and returns false for anything else. */
export function createStaticHandler (dir: string): (req: IncomingMessage, res: ServerResponse, pathname: string) => boolean {
  const files = new Map<string, StaticFile>()
  load(dir, '/', files)
  return (req, res, pathname) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false
    const file = files.get(pathname === '/' ? '/index.html' : pathname)
    if (file === undefined) return false
    res.writeHead(200, {
      'content-type': file.type,
      'content-length': file.body.length,
      // Small files that change with the code: revalidate rather than serve stale.
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'content-security-policy': CONTENT_SECURITY_POLICY
    })
    res.end(req.method === 'HEAD' ? undefined : file.body)
    return true
  }
}
