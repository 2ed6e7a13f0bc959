import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Entry } from '../entry/entry.js';
import { formatHlc } from '../entry/hlc.js';
import { parseTtl } from '../entry/ttl.js';
import { FleetError } from '../errors.js';
import type { FleetNode } from '../node.js';
import { isExpiryEvent } from '../store/expiry.js';
import { allowMethods } from './checks.js';
import { sendJson } from './respond.js';

/** `X-Fleetkv-*` headers describing an entry's metadata. */
export function entryHeaders(e: Entry): Record<string, string> {
  return {
    'x-fleetkv-origin': e.origin,
    'x-fleetkv-incarnation': String(e.inc),
    'x-fleetkv-seq': String(e.seq),
    'x-fleetkv-hlc': formatHlc(e.wall, e.logical),
    ...(e.expiresAt > 0 ? { 'x-fleetkv-expires': new Date(e.expiresAt).toISOString() } : {}),
  };
}

/** JSON form of an entry for listings and watch events; binary values go as base64. */
export function entryJson(e: Entry): Record<string, unknown> {
  const v = e.value;
  const text = isUtf8Text(v) ? v.toString('utf8') : undefined;
  return {
    key: e.key,
    op: e.isDelete ? 'del' : 'put',
    ...(e.isDelete ? {} : text !== undefined ? { value: text } : { value: v.toString('base64'), encoding: 'base64' }),
    origin: e.origin,
    inc: e.inc,
    seq: e.seq,
    hlc: formatHlc(e.wall, e.logical),
    ...(e.expiresAt > 0 ? { expiresAt: new Date(e.expiresAt).toISOString() } : {}),
    ...(isExpiryEvent(e) ? { expired: true } : {}),
  };
}

export function isUtf8Text(b: Buffer): boolean {
  // Control characters other than tab/newline mean binary.
  if (!isUtf8(b)) return false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return true;
}

/** Read a request body, refusing it as soon as it passes `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(new FleetError('VALUE_TOO_LARGE', `value is ${declared} bytes; the limit is ${limit} (limits.maxValueBytes)`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new FleetError('VALUE_TOO_LARGE', `value is over the limit of ${limit} bytes (limits.maxValueBytes)`));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function handleKv(node: FleetNode, req: IncomingMessage, res: ServerResponse, key: string): Promise<void> {
  switch (req.method) {
    case 'GET':
    case 'HEAD': {
      const e = node.get(key);
      if (!e) throw new FleetError('NOT_FOUND', `key "${key}" not found`);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': e.valueLength, ...entryHeaders(e) });
      res.end(req.method === 'HEAD' ? undefined : e.value);
      return;
    }
    case 'PUT':
    case 'POST': {
      const ttl = new URL(req.url ?? '/', 'http://x').searchParams.get('ttl');
      if (ttl !== null) parseTtl(ttl); // refuse a bad ttl before reading the body
      const body = await readBody(req, node.config.limits.maxValueBytes);
      const r = await node.put(key, body, ttl === null ? {} : { ttl });
      sendJson(res, 200, r);
      return;
    }
    case 'DELETE': {
      const r = await node.delete(key);
      sendJson(res, 200, r);
      return;
    }
    default:
      allowMethods(req, res, ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']);
  }
}
