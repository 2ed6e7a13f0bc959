import type { ServerResponse } from 'node:http';
import { FleetError } from '../errors.js';
import type { NodeHost } from '../node-host.js';
import { nextTurn, TurnBudget } from '../util/turn-budget.js';
import { entryJson } from '../entry/json.js';
import { drainOrClose } from '../util/drain.js';

/** `limit` when the request names none. */
const DEFAULT_LIMIT = 10_000;

/**
 * `GET /v1/kv?prefix=&limit=&after=`: live entries in key order
 * (docs/http-api.md). `limit` is at most limits.listMax (LIMIT_TOO_LARGE
 * beyond); the body is streamed in chunks that wait for the connection to
 * drain, resuming after the last key sent, and the loop yields every
 * TURN_BUDGET_MS, so a large listing neither builds its body in memory nor
 * blocks the event loop. A listing that spans several turns is not a
 * point-in-time snapshot: a key written meanwhile may show its old or new value.
 */
export async function handleList(node: NodeHost, url: URL, res: ServerResponse): Promise<void> {
  const prefix = url.searchParams.get('prefix') ?? '';
  const limitText = url.searchParams.get('limit');
  const limit = limitText === null ? Math.min(DEFAULT_LIMIT, node.config.limits.listMax) : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1) throw new FleetError('BAD_REQUEST', 'limit must be a positive integer');
  const max = node.config.limits.listMax;
  if (limit > max) throw new FleetError('LIMIT_TOO_LARGE', `limit ${limit} is over limits.listMax (${max}): page with ?after=<next>`);
  let after = url.searchParams.get('after') ?? undefined;
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  let chunk = `{"prefix":${JSON.stringify(prefix)},"entries":[`;
  let count = 0;
  let next: string | undefined;
  const budget = new TurnBudget();
  let closed = false;
  res.once('close', () => {
    closed = true;
  });
  for (;;) {
    let finished = true;
    for (const e of node.store.list(prefix, after)) {
      if (count === limit) {
        next = after;
        break;
      }
      after = e.key;
      chunk += (count++ === 0 ? '' : ',') + JSON.stringify(entryJson(e));
      if (chunk.length >= 64 * 1024 || budget.spent()) {
        finished = false;
        break;
      }
    }
    if (finished) break;
    res.write(chunk);
    chunk = '';
    await (res.writableNeedDrain ? drainOrClose(res) : nextTurn());
    if (closed) return;
    budget.reset();
  }
  res.end(`${chunk}],"count":${count}${next !== undefined ? `,"next":${JSON.stringify(next)}` : ''}}`);
}
