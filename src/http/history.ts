import type { IncomingMessage, ServerResponse } from 'node:http';
import { validateKey } from '../entry/key.js';
import { FleetError } from '../errors.js';
import type { NodeHost } from '../node-host.js';
import { MAX_HISTORY_PER_KEY } from '../store/history.js';
import { entryJson } from '../entry/json.js';
import { sendJson } from './respond.js';

/** `?history=N`: an integer from 1 to MAX_HISTORY_PER_KEY, or HISTORY_INVALID. */
export function parseHistoryN(text: string): number {
  const n = /^[0-9]{1,3}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_HISTORY_PER_KEY)) {
    throw new FleetError('HISTORY_INVALID', `history must be an integer from 1 to ${MAX_HISTORY_PER_KEY}, not "${text.slice(0, 32)}"`);
  }
  return n;
}

/**
 * `GET /v1/kv/<key>?history=N`: the last N versions this node applied to the
 * key, newest first, deletes included (docs/http-api.md). Local: catch-up
 * carries only a key's newest version, so nodes may differ; after a restart
 * only the current version is known.
 */
export function handleHistory(node: NodeHost, req: IncomingMessage, res: ServerResponse, key: string, nText: string): void {
  if (req.method !== 'GET') throw new FleetError('BAD_REQUEST', `?history works with GET only, not ${req.method}`);
  const n = parseHistoryN(nText);
  validateKey(key);
  let versions = node.history.versions(key, n);
  const current = node.store.getAny(key);
  // A key recovered from disk (or from before a restart) has no recorded versions yet: its current one still counts.
  if (current !== undefined && versions[0] !== current) versions = [current, ...versions].slice(0, n);
  if (versions.length === 0) throw new FleetError('NOT_FOUND', `key "${key}" not found`);
  sendJson(res, 200, { key, local: true, count: versions.length, versions: versions.map(entryJson) });
}
