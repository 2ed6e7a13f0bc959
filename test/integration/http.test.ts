import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProc, runCli, tempDir, waitFor } from '../helpers/proc.js';

/** The HTTP API and CLI against a real node process; bad input never costs data. */
describe('HTTP API and CLI on a running node', () => {
  const dir = tempDir('fleetkv-http-');
  let node: NodeProc;
  beforeAll(async () => {
    node = await new NodeProc({ nodeId: 'h1', dataDir: dir, env: { FLEETKV_MAX_VALUE_BYTES: '1024', FLEETKV_MQTT_ENABLED: 'false' } }).start();
  });
  afterAll(async () => {
    await node.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes, reads with metadata headers, lists by prefix and deletes', async () => {
    const put = await node.put('robots/r1/status', 'active');
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ key: 'robots/r1/status', origin: 'h1', seq: expect.any(Number) });
    const got = await node.fetch('/v1/kv/robots/r1/status');
    expect(await got.text()).toBe('active');
    expect(got.headers.get('x-fleetkv-origin')).toBe('h1');
    expect(got.headers.get('x-fleetkv-hlc')).toMatch(/^\d+$/);
    await node.put('robots/r2/status', Buffer.from([0, 1, 2, 255]));
    const list = (await (await node.fetch('/v1/kv?prefix=robots/')).json()) as { entries: { key: string; value: string; encoding?: string }[] };
    expect(list.entries.map((e) => e.key)).toEqual(['robots/r1/status', 'robots/r2/status']);
    expect(list.entries[1]).toMatchObject({ encoding: 'base64', value: Buffer.from([0, 1, 2, 255]).toString('base64') });
    expect((await node.fetch('/v1/kv/robots/r2/status', { method: 'DELETE' })).status).toBe(200);
    expect((await node.fetch('/v1/kv/robots/r2/status')).status).toBe(404);
  });

  it.each([
    ['a%23b', 400, 'KEY_INVALID'],
    ['a/%2B/b', 400, 'KEY_INVALID'],
    ['a%00b', 400, 'KEY_INVALID'],
    ['a//b', 400, 'KEY_INVALID'],
    ['k'.repeat(1025), 400, 'KEY_INVALID'],
    ['%E0%A4%A', 400, 'KEY_INVALID'],
  ])('refuses key %s with %i %s and keeps serving', async (key, status, code) => {
    const r = await node.fetch(`/v1/kv/${key}`, { method: 'PUT', body: 'x' });
    expect(r.status).toBe(status);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe(code);
    expect(await node.get('robots/r1/status')).toBe('active');
  });

  it('refuses an oversized value with 413 VALUE_TOO_LARGE, declared or streamed', async () => {
    const r = await node.put('big', Buffer.alloc(2048));
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('VALUE_TOO_LARGE');
    // Without a content-length (chunked), the limit still holds.
    const chunked = await node.fetch('/v1/kv/big2', {
      method: 'PUT',
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 4; i++) c.enqueue(new Uint8Array(600));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(await node.get('big')).toBeUndefined();
    expect(await node.get('robots/r1/status')).toBe('active');
  });

  it('streams changes as server-sent events', async () => {
    const ctrl = new AbortController();
    const res = await node.fetch('/v1/watch?prefix=watch/', { signal: ctrl.signal });
    const reader = res.body!.getReader();
    let text = '';
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += Buffer.from(value).toString();
      }
    })().catch(() => {});
    await node.put('other/x', '1');
    await node.put('watch/a', 'hello');
    await waitFor(() => text.includes('"key":"watch/a"'), 'watch event');
    expect(text).not.toContain('other/x');
    expect(text).toContain('"value":"hello"');
    ctrl.abort();
    await reading;
  });

  it('serves status, health, readiness and Prometheus metrics', async () => {
    const s = await node.status();
    expect(s).toMatchObject({ nodeId: 'h1', state: 'running', keys: expect.any(Number), log: { fsync: 'batch' } });
    expect((await node.fetch('/healthz')).status).toBe(200);
    expect((await node.fetch('/readyz')).status).toBe(200);
    const metrics = await (await node.fetch('/metrics')).text();
    for (const m of ['fleetkv_writes_total', 'fleetkv_fsyncs_total', 'fleetkv_fsync_seconds_bucket', 'fleetkv_log_bytes', 'fleetkv_keys']) expect(metrics).toContain(m);
    expect((await node.fetch('/nope')).status).toBe(404);
  });

  it('the CLI writes, reads, lists and reports errors with exit codes', async () => {
    const env = { FLEETKV_URL: node.url };
    expect((await runCli(['put', 'cli/x', 'hello'], { env })).code).toBe(0);
    const get = await runCli(['get', 'cli/x'], { env });
    expect(get).toMatchObject({ code: 0, stdout: 'hello' });
    expect((await runCli(['ls', 'cli/'], { env })).stdout).toBe('cli/x\thello\n');
    const piped = await runCli(['put', 'cli/y'], { env, input: 'from stdin' });
    expect(piped.code).toBe(0);
    expect(await node.get('cli/y')).toBe('from stdin');
    const missing = await runCli(['get', 'cli/none'], { env });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('not found');
    const bad = await runCli(['put', 'a#b', 'v'], { env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("'#'");
    const unknown = await runCli(['frobnicate'], { env });
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const down = await runCli(['get', 'x'], { env: { FLEETKV_URL: 'http://127.0.0.1:1' } });
    expect(down.code).toBe(69);
    expect(down.stderr).toContain('cannot reach fleetkv');
    const status = await runCli(['status'], { env });
    expect(status.stdout).toMatch(/node\s+h1/);
  });

  it('the shell answers like the prototype', async () => {
    const r = await runCli(['shell'], { env: { FLEETKV_URL: node.url }, input: 'put status active\nget status\nget nothing\nput bad//key v\nbogus\nexit\n' });
    expect(r.stdout).toContain('Stored status=active');
    expect(r.stdout).toContain('Value: active');
    expect(r.stdout).toContain('Key not found: nothing');
    expect(r.stdout).toContain('Error (KEY_INVALID)');
    expect(r.stdout).toContain('Unknown command: bogus');
    expect(r.code).toBe(0);
    expect(await node.get('status')).toBe('active');
  });
});
