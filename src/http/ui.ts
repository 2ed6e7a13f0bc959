import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FleetError } from '../errors.js';

/** The fleet page's files (src/http/ui, copied to dist/http/ui by the build), by name. */
const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};
const UI_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ui');
/** Everything the page loads comes from this node: the browser refuses anything else. */
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

const cache = new Map<string, Buffer>();

function load(name: string): Buffer {
  let body = cache.get(name);
  if (!body) {
    try {
      body = fs.readFileSync(path.join(UI_DIR, name));
    } catch {
      throw new FleetError('NOT_FOUND', `fleet page file ${name} is missing from ${UI_DIR} (run npm run build)`);
    }
    cache.set(name, body);
  }
  return body;
}

/** `/` and `/ui` redirect to `/ui/`; `/ui/<file>` serves the fleet page (docs/robots.md). */
export function handleUi(req: IncomingMessage, res: ServerResponse, pathname: string): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new FleetError('BAD_REQUEST', `method ${req.method} is not allowed on ${pathname}`);
  if (pathname === '/' || pathname === '/ui') {
    res.writeHead(302, { location: '/ui/', 'content-length': 0 });
    res.end();
    return;
  }
  const name = pathname === '/ui/' ? 'index.html' : pathname.slice('/ui/'.length);
  const type = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
  if (type === undefined) throw new FleetError('NOT_FOUND', `no route ${req.method} ${pathname}`);
  const body = load(name);
  res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'no-cache', 'content-security-policy': CSP, 'x-content-type-options': 'nosniff' });
  res.end(req.method === 'HEAD' ? undefined : body);
}
