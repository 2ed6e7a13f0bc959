import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { sseEvents, type SseEvent } from '../../src/cli/sse.js';
import { freePort } from '../helpers/mosquitto.js';
import { CLI, NodeProc, tempDir, waitFor } from '../helpers/proc.js';

/**
 * Resumable watches (docs/http-api.md, "Resuming a watch"): every change
 * carries an id; a watcher that reconnects with Last-Event-ID gets what it
 * missed, in order; when the node cannot replay it (garbage id, restarted
 * node, id older than the journal) the stream says `reset` and sends the
 * current values. `fleetkv watch` reconnects and resumes by itself.
 */
interface Watch {
  events: SseEvent[];
  close(): void;
}

function openWatch(node: NodeProc, prefix: string, lastEventId?: string): Watch {
  const ctrl = new AbortController();
  const events: SseEvent[] = [];
  void (async () => {
    try {
      const res = await node.fetch(`/v1/watch?prefix=${encodeURIComponent(prefix)}`, { signal: ctrl.signal, headers: lastEventId ? { 'last-event-id': lastEventId } : {} });
      for await (const ev of sseEvents(res.body as unknown as AsyncIterable<Uint8Array>)) events.push(ev);
    } catch {
      /* aborted */
    }
  })();
  return { events, close: () => ctrl.abort() };
}

const changes = (w: Watch): { key: string; value: string }[] => w.events.filter((e) => e.event === undefined && e.data !== '').map((e) => JSON.parse(e.data) as { key: string; value: string });
const lastId = (w: Watch): string | undefined => w.events.filter((e) => e.id !== undefined).at(-1)?.id;

describe('resumable watch', () => {
  const dir = tempDir();
  let node: NodeProc;
  const watches: Watch[] = [];
  const track = (w: Watch): Watch => (watches.push(w), w);

  afterAll(async () => {
    for (const w of watches) w.close();
    await node?.stop();
  });

  it('replays exactly what was missed under the prefix, in order, after Last-Event-ID', async () => {
    node = await new NodeProc({ nodeId: 'a', dataDir: dir }).start();
    const w1 = track(openWatch(node, 'robots/'));
    await waitFor(() => lastId(w1), 'the id of the start of the stream');
    await node.put('robots/r1/status', 'idle');
    await waitFor(() => changes(w1).length === 1, 'first change');
    const id = lastId(w1)!;
    expect(id).toMatch(/^[0-9a-f]{8}\.\d+$/);
    w1.close();

    // Missed while away: two under the prefix, one outside it.
    await node.put('robots/r1/status', 'moving');
    await node.put('missions/m1', 'go');
    await node.put('robots/r2/status', 'charging');

    const w2 = track(openWatch(node, 'robots/', id));
    await waitFor(() => changes(w2).length === 2, 'the two missed changes');
    expect(changes(w2).map((c) => [c.key, c.value])).toEqual([
      ['robots/r1/status', 'moving'],
      ['robots/r2/status', 'charging'],
    ]);
    expect(w2.events.some((e) => e.event === 'reset')).toBe(false);
    // Then live, as usual.
    await node.put('robots/r3/status', 'idle');
    await waitFor(() => changes(w2).length === 3, 'a live change after the replay');
    w2.close();
  });

  it('says reset and sends the current values for a garbage id, then goes on live', async () => {
    const w = track(openWatch(node, 'robots/', 'banana'));
    await waitFor(() => w.events.find((e) => e.event === 'reset'), 'reset event');
    expect(JSON.parse(w.events.find((e) => e.event === 'reset')!.data)).toMatchObject({ reason: 'invalid-id' });
    await waitFor(() => changes(w).length === 3, 'current values of robots/');
    expect(new Map(changes(w).map((c) => [c.key, c.value]))).toEqual(
      new Map([
        ['robots/r1/status', 'moving'],
        ['robots/r2/status', 'charging'],
        ['robots/r3/status', 'idle'],
      ]),
    );
    await waitFor(() => lastId(w), 'an id after the values');
    await node.put('robots/r1/status', 'error');
    await waitFor(() => changes(w).length === 4, 'live after the reset');
    w.close();
  });

  it('says reset when the id is older than the journal, and after a restart', async () => {
    const w = track(openWatch(node, 'robots/'));
    await waitFor(() => lastId(w), 'id');
    const id = lastId(w)!;
    w.close();
    await node.stop();
    node = await new NodeProc({ nodeId: 'a', dataDir: dir, env: { FLEETKV_WATCH_JOURNAL_EVENTS: '5' } }).start();
    const afterRestart = track(openWatch(node, 'robots/', id));
    await waitFor(() => afterRestart.events.find((e) => e.event === 'reset'), 'reset after restart');
    expect(JSON.parse(afterRestart.events.find((e) => e.event === 'reset')!.data)).toMatchObject({ reason: 'restarted' });
    await waitFor(() => lastId(afterRestart), 'id after restart');
    const fresh = lastId(afterRestart)!;
    afterRestart.close();

    for (let i = 0; i < 20; i++) await node.put(`robots/burst/${i}`, String(i));
    const tooOld = track(openWatch(node, 'robots/', fresh));
    await waitFor(() => tooOld.events.find((e) => e.event === 'reset'), 'reset for an id the journal dropped');
    expect(JSON.parse(tooOld.events.find((e) => e.event === 'reset')!.data)).toMatchObject({ reason: 'too-old' });
    await waitFor(() => changes(tooOld).length === 23, 'all current values (3 robots + 20)');
    tooOld.close();
  });

  it('fleetkv watch reconnects by itself across a node restart and resumes', async () => {
    await node.stop();
    const port = await freePort();
    const fixed = { FLEETKV_HTTP_PORT: String(port) };
    node = await new NodeProc({ nodeId: 'a', dataDir: dir, env: fixed }).start();
    const cli = spawn(process.execPath, [CLI, 'watch', 'cli/'], { env: { ...process.env, FLEETKV_URL: `http://127.0.0.1:${port}` }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      // The CLI is connected once a write shows up in its output.
      await waitFor(
        async () => {
          await node.put('cli/probe', 'p');
          return out.includes('"cli/probe"');
        },
        'fleetkv watch connected',
        15_000,
        200,
      );
      await node.put('cli/k', 'before');
      await waitFor(() => out.includes('"before"'), 'before restart');
      await node.stop();
      node = await new NodeProc({ nodeId: 'a', dataDir: dir, env: fixed }).start();
      await node.put('cli/k', 'after');
      await waitFor(() => out.includes('"after"'), 'a change after the restart, without restarting the CLI', 20_000);
      expect(err).toMatch(/reconnecting|retrying/);
      expect(err).toContain('cannot resume (restarted)');
      expect(cli.exitCode).toBeNull();
    } finally {
      cli.kill();
    }
  });
});
