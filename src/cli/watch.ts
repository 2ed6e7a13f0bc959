import { isFleetError, type FleetErrorCode } from '../errors.js';
import type { NodeClient } from './client.js';
import { sseEvents } from './sse.js';

const FIRST_RETRY_MS = 200;
const MAX_RETRY_MS = 5000;
/** A node that is down, restarting or not ready yet: try again. Anything else (a bad token, prefix) is final. */
const RETRYABLE: ReadonlySet<FleetErrorCode> = new Set(['UNAVAILABLE', 'IO_ERROR', 'NODE_NOT_READY', 'NODE_STOPPED']);

export interface FollowOptions {
  initial?: boolean;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}

/**
 * `fleetkv watch`: print every change under a prefix as a JSON line, for
 * ever. When the connection drops (the node restarts, Wi-Fi) it reconnects
 * by itself with the last event id it saw, so the node replays what was
 * missed; when the node cannot (docs/http-api.md, "Resuming a watch") it says
 * so with a `reset` event, printed here on stderr, and the current values
 * follow. Refusals (a bad token, a bad prefix) end it with their error.
 */
export async function followWatch(client: NodeClient, prefix: string, opts: FollowOptions = {}): Promise<never> {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  let lastId: string | undefined;
  let retryMs = FIRST_RETRY_MS;
  for (;;) {
    try {
      const initial = opts.initial === true && lastId === undefined ? '&initial=1' : '';
      const res = await client.request('GET', `/v1/watch?prefix=${encodeURIComponent(prefix)}${initial}`, undefined, lastId ? { 'last-event-id': lastId } : {});
      retryMs = FIRST_RETRY_MS;
      for await (const ev of sseEvents(res.body as unknown as AsyncIterable<Uint8Array>)) {
        if (ev.id !== undefined) lastId = ev.id;
        if (ev.event === 'reset') {
          const reason = (JSON.parse(ev.data || '{}') as { reason?: string }).reason ?? 'unknown';
          err.write(`watch: cannot resume (${reason}); the current values follow\n`);
        } else if (ev.event === undefined && ev.data !== '') out.write(`${ev.data}\n`);
      }
      err.write('watch: the node closed the stream; reconnecting\n');
    } catch (e) {
      if (isFleetError(e) && !RETRYABLE.has(e.code)) throw e;
      err.write(`watch: ${(e as Error).message}; retrying in ${retryMs} ms\n`);
    }
    await new Promise((r) => setTimeout(r, retryMs));
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
  }
}
