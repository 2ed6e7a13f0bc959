import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Entry } from '../entry/entry.js';
import { formatHlc } from '../entry/hlc.js';
import { parseTtl } from '../entry/ttl.js';
import { FleetError } from '../errors.js';
import type { NodeHost } from '../node-host.js';
import { allowMethods } from './checks.js';
import { sendWriteResult } from './respond.js';

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

/** /v1/kv/<key>; `ttl` is the request's `?ttl=` (null when absent). */
export async function handleKv(node: NodeHost, req: IncomingMessage, res: ServerResponse, key: string, ttl: string | null): Promise<void> {
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
      if (ttl !== null) parseTtl(ttl); // refuse a bad ttl before reading the body
      const body = await readBody(req, node.config.limits.maxValueBytes);
      const r = await node.put(key, body, ttl === null ? {} : { ttl });
      sendWriteResult(res, r);
      return;
    }
    case 'DELETE': {
      const r = await node.delete(key);
      sendWriteResult(res, r);
      return;
    }
    default:
      allowMethods(req, res, ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']);
  }
}
