import type { ServerResponse } from 'node:http';
import { FleetError, isFleetError } from '../errors.js';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
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
