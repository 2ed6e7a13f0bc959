import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Counter } from 'prom-client';
import type { Entry } from '../entry/entry.js';
import type { NodeHost } from '../node-host.js';
import { nextTurn, TurnBudget } from '../util/turn-budget.js';
import { entryJsonText } from '../entry/json.js';
import type { WatchJournal } from './watch-journal.js';
import { drainOrClose } from '../util/drain.js';

/** What a dropped watcher is counted by. */
export type WatchDropReason = 'behind';

/**
 * `GET /v1/watch`: server-sent events, one `data:` line of JSON per change
 * under the prefix; `?initial=1` sends the current values first
 * (docs/http-api.md). Bounded: events wait in this watcher's own buffer while
 * its connection is full, and a watcher more than limits.watchBufferBytes
 * behind is dropped (counted, logged); the initial values are streamed in
 * pages that wait for the connection to drain, yielding the event loop every
 * TURN_BUDGET_MS.
 */
export async function handleWatch(node: NodeHost, journal: WatchJournal, url: URL, req: IncomingMessage, res: ServerResponse, dropped: Counter<'reason'>): Promise<void> {
  const prefix = url.searchParams.get('prefix') ?? '';
  const out = new WatchOutput(res, node.config.limits.watchBufferBytes, () => {
    dropped.inc({ reason: 'behind' });
    node.logger.warn({ prefix, remote: req.socket.remoteAddress, limit: node.config.limits.watchBufferBytes }, 'http: dropped a watcher that fell behind (over limits.watchBufferBytes unread)');
  });
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.write(': watching\n\n');
  // Resuming (docs/http-api.md, "Resuming a watch"): what was missed since the client's last id, or an
  // explicit reset followed by the current values. Replay and subscription happen in this same turn.
  const lastEventId = req.headers['last-event-id'];
  const resumed = typeof lastEventId === 'string' ? journal.since(lastEventId, prefix) : undefined;
  const mark = journal.lastId;
  let initial = url.searchParams.get('initial') === '1';
  if (resumed && 'reset' in resumed) {
    res.write(`event: reset\ndata: ${JSON.stringify({ reason: resumed.reset, id: mark })}\n\n`);
    initial = true;
  }
  if (initial)
    out.hold(); // live events wait until the initial values are out
  else if (resumed && 'events' in resumed) for (const text of resumed.events) out.send(text);
  // An id-only event: the client's last id is now this one even if no change comes before it reconnects.
  if (!initial) out.send(`id: ${mark}\n\n`);
  const unwatch = journal.subscribe(prefix, (text) => out.send(text));
  const ping = setInterval(() => out.send(': ping\n\n'), 15_000);
  const done = (): void => {
    clearInterval(ping);
    unwatch();
    out.closed = true;
  };
  req.on('close', done);
  res.on('close', done);
  if (initial) {
    await streamInitial(node, prefix, res, () => out.closed);
    // After the values, the id they are current at: held live events (later ids) follow.
    if (!out.closed) res.write(`id: ${mark}\n\n`);
    out.release();
  }
}

/** A change as the data of a server-sent event (the initial values carry no id: they are a state, not a change). */
export function eventData(e: Entry): string {
  return entryJsonText(e);
}

/** The current values under the prefix, in key order, resuming after the last key sent on each turn. */
async function streamInitial(node: NodeHost, prefix: string, res: ServerResponse, closed: () => boolean): Promise<void> {
  const budget = new TurnBudget();
  let after: string | undefined;
  for (;;) {
    let chunk = '';
    let finished = true;
    for (const e of node.store.list(prefix, after)) {
      after = e.key;
      chunk += `data: ${eventData(e)}\n\n`;
      if (chunk.length >= 64 * 1024 || budget.spent()) {
        finished = false;
        break;
      }
    }
    if (chunk !== '') res.write(chunk);
    if (finished || closed()) return;
    await (res.writableNeedDrain ? drainOrClose(res) : nextTurn());
    if (closed()) return;
    budget.reset();
  }
}

/**
 * One watcher's output: written through while the connection takes it,
 * buffered (joined into one write on 'drain') while it does not, dropped once
 * the buffer passes `maxBytes`.
 */
class WatchOutput {
  closed = false;
  private pending: string[] = [];
  private pendingBytes = 0;
  private held = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly maxBytes: number,
    private readonly onDrop: () => void,
  ) {
    res.on('drain', () => this.flush());
  }

  send(text: string): void {
    if (this.closed) return;
    if (!this.held && this.pending.length === 0 && !this.res.writableNeedDrain) {
      this.res.write(text);
      return;
    }
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (this.pendingBytes > this.maxBytes) {
      this.closed = true;
      this.pending = [];
      this.pendingBytes = 0;
      this.onDrop();
      this.res.destroy();
    }
  }

  hold(): void {
    this.held = true;
  }

  release(): void {
    this.held = false;
    this.flush();
  }

  private flush(): void {
    if (this.closed || this.held || this.pending.length === 0 || this.res.writableNeedDrain) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.res.write(text);
  }
}
