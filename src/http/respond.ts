import type { ServerResponse } from 'node:http';
import { FleetError, isFleetError } from '../errors.js';
import type { WriteResult } from '../node-host.js';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const JSON_TYPE = 'application/json; charset=utf-8';
/** The last origin written out as JSON (a node answers with its own origin every time). */
let lastOrigin = '';
let lastOriginJson = '""';

/**
 * The answer to a write, `{"key","origin","inc","seq","hlc"}`: the same text
 * as sendJson's, built from its fixed shape (only the key and the origin need
 * escaping) with the headers as a flat array, which node:http takes without
 * its per-header object work. The write answer is on every PUT's path.
 */
export function sendWriteResult(res: ServerResponse, r: WriteResult): void {
  if (r.origin !== lastOrigin) {
    lastOrigin = r.origin;
    lastOriginJson = JSON.stringify(r.origin);
  }
  const text = `{"key":${JSON.stringify(r.key)},"origin":${lastOriginJson},"inc":${r.inc},"seq":${r.seq},"hlc":"${r.hlc}"}`;
  res.writeHead(200, ['content-type', JSON_TYPE, 'content-length', String(Buffer.byteLength(text))]);
  res.end(text);
}

/** Every error leaves the API as `{ error: { code, message } }` with the code's HTTP status. */
export function sendError(res: ServerResponse, err: unknown): void {
  const fe = isFleetError(err) ? err : new FleetError('IO_ERROR', err instanceof Error ? err.message : String(err));
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, fe.httpStatus, { error: fe.toJSON() });
}
