import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProc, runCli, tempDir, waitFor } from '../helpers/proc.js';
import { peerAddress, restart, startNode } from '../replication/fleet.js';

interface Robot {
  id: string;
  status: string | null;
  battery: number | null;
  pose: unknown;
  online: boolean;
  node: string;
  lastSeen: string;
  problems: { key: string; code: string; message: string }[];
}

async function robots(n: NodeProc): Promise<Robot[]> {
  return ((await (await n.fetch('/v1/robots')).json()) as { robots: Robot[] }).robots;
}

async function put(n: NodeProc, key: string, value: string): Promise<void> {
  const r = await n.fetch(`/v1/kv/${key}`, { method: 'PUT', body: value });
  expect(r.status, await r.clone().text()).toBe(200);
}

/** /v1/robots, `fleetkv robots`, the page's files and ?history on a real two-node fleet. */
describe('robots over HTTP and the CLI', () => {
  const dirs: string[] = [];
  let a: NodeProc;
  let b: NodeProc;
  beforeAll(async () => {
    dirs.push(tempDir(), tempDir());
    a = await startNode('ra', { dataDir: dirs[0]! });
    b = await startNode('rb', { dataDir: dirs[1]!, peers: [peerAddress(a)] });
  });
  afterAll(async () => {
    await Promise.all([a, b].map((n) => n.stop()));
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it("merges each robot's documents written on its own node; every node serves them with online and lastSeen", async () => {
    await put(a, 'robots/ra/pose', '{"x":3,"y":4,"yaw":1.57,"map":"L1"}');
    await put(a, 'robots/ra/status', 'moving');
    await put(a, 'robots/ra/battery', '0.8');
    await put(b, 'robots/rb/status', '"charging"');
    for (const n of [a, b]) {
      const list = await waitFor(async () => {
        const r = await robots(n);
        return r.length === 2 && r[0]!.battery !== null ? r : undefined;
      }, `both robots on ${n.opts.nodeId}`);
      expect(list[0]).toMatchObject({ id: 'ra', node: 'ra', online: true, status: 'moving', battery: 0.8, pose: { x: 3, y: 4, yaw: 1.57, map: 'L1' }, problems: [] });
      expect(list[1]).toMatchObject({ id: 'rb', node: 'rb', online: true, status: 'charging', battery: null, pose: null });
      expect(Date.parse(list[0]!.lastSeen)).toBeGreaterThan(Date.now() - 60_000);
    }
    const one = await b.fetch('/v1/robots/ra');
    expect(await one.json()).toMatchObject({ id: 'ra', status: 'moving' });
    const missing = await b.fetch('/v1/robots/nobody');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect(await (await b.fetch('/v1/robots/a%2Fb')).json()).toMatchObject({ error: { code: 'KEY_INVALID' } });
    const post = await b.fetch('/v1/robots', { method: 'POST', body: '{}' });
    expect(post.status).toBe(400);
  });

  it('a malformed raw document is stored as written (HTTP stays a plain KV) and shown as a problem, the rest of the robot still shows', async () => {
    await put(a, 'robots/rc/pose', '{"x":"left","y":1}');
    await put(a, 'robots/rc/status', 'idle');
    const rc = await waitFor(async () => (await robots(b)).find((r) => r.id === 'rc' && r.status === 'idle'), 'rc on rb');
    expect(rc.pose).toBeNull();
    expect(rc.problems).toEqual([{ key: 'robots/rc/pose', code: 'ROBOT_DOC_INVALID', message: expect.stringContaining('pose.x must be a finite number') }]);
    expect(await (await b.fetch('/v1/kv/robots/rc/pose')).text()).toBe('{"x":"left","y":1}');
    expect((await b.fetch('/readyz')).status).toBe(200);
  });

  it('fleetkv robots prints a table of id, status, battery, pose, last seen and online', async () => {
    const r = await runCli(['robots'], { env: { FLEETKV_URL: b.url } });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ROBOT\s+STATUS\s+BATTERY\s+POSE \(x, y, yaw @ map\)\s+LAST SEEN\s+ONLINE$/);
    expect(lines.find((l) => l.startsWith('ra '))).toMatch(/^ra\s+moving\s+80%\s+3\.00, 4\.00, 1\.57 @ L1\s+\d+s ago\s+online$/);
    expect(lines.find((l) => l.startsWith('rc '))).toMatch(/^rc\s+idle \(malformed\)\s+-\s+-/);
    const json = await runCli(['robots', '--json'], { env: { FLEETKV_URL: b.url } });
    expect((JSON.parse(json.stdout) as Robot[]).map((x) => x.id)).toEqual(['ra', 'rb', 'rc']);
  });

  it('serves the fleet page: / redirects to /ui/, files come from the node with a same-origin-only CSP, others are 404', async () => {
    const root = await b.fetch('/', { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/ui/');
    const page = await b.fetch('/ui/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//i);
    for (const [file, type] of [
      ['app.js', /^text\/javascript/],
      ['style.css', /^text\/css/],
    ] as const) {
      const r = await b.fetch(`/ui/${file}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(type);
      expect(await r.text()).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    }
    for (const p of ['/ui/../package.json', '/ui/app.ts', '/ui/%2e%2e/server.js', '/ui/nope.js']) expect((await b.fetch(p)).status, p).toBe(404);
  });

  it('GET ?history=N returns the last N versions this node applied, newest first; a bad N is 400 HISTORY_INVALID', async () => {
    for (let i = 1; i <= 5; i++) await put(a, 'cfg/speed', `v${i}`);
    await b.fetch('/v1/kv/cfg/speed', { method: 'DELETE' });
    // The delete must reach ra before v6 is written there, or ra's v6 is older news than nothing (a race under load).
    await waitFor(async () => (await a.fetch('/v1/kv/cfg/speed')).status === 404, "rb's delete on ra");
    await put(a, 'cfg/speed', 'v6');
    const h = (await (await a.fetch('/v1/kv/cfg/speed?history=3')).json()) as { key: string; local: boolean; versions: { op: string; value?: string; origin: string }[] };
    expect(h).toMatchObject({ key: 'cfg/speed', local: true });
    await waitFor(async () => {
      const x = (await (await a.fetch('/v1/kv/cfg/speed?history=3')).json()) as typeof h;
      return x.versions[1]?.op === 'del';
    }, "the delete from rb in ra's history");
    const h3 = (await (await a.fetch('/v1/kv/cfg/speed?history=3')).json()) as typeof h;
    expect(h3.versions.map((v) => [v.op, v.value ?? null, v.origin])).toEqual([
      ['put', 'v6', 'ra'],
      ['del', null, 'rb'],
      ['put', 'v5', 'ra'],
    ]);
    const all = (await (await a.fetch('/v1/kv/cfg/speed?history=64')).json()) as typeof h;
    expect(all.versions.map((v) => v.value ?? '<del>')).toEqual(['v6', '<del>', 'v5', 'v4', 'v3', 'v2', 'v1']);
    expect((await a.fetch('/v1/kv/never/written?history=2')).status).toBe(404);
    for (const bad of ['0', '65', '-1', '1.5', 'abc', '', '1e1', ' 3', '0x10', '9'.repeat(400)]) {
      const r = await a.fetch(`/v1/kv/cfg/speed?history=${encodeURIComponent(bad)}`);
      expect(r.status, `history=${bad}`).toBe(400);
      expect(await r.json()).toMatchObject({ error: { code: 'HISTORY_INVALID' } });
    }
    // ?history never writes: a PUT with it is refused and the value stays.
    const putWithHistory = await a.fetch('/v1/kv/cfg/speed?history=2', { method: 'PUT', body: 'v7' });
    expect(putWithHistory.status).toBe(400);
    expect(await (await a.fetch('/v1/kv/cfg/speed')).text()).toBe('v6');
    expect((await a.fetch('/readyz')).status).toBe(200);
  });

  it('history is local: after a restart a node knows only the current version', async () => {
    await b.stop();
    b = await restart(b);
    const h = (await (await b.fetch('/v1/kv/cfg/speed?history=64')).json()) as { versions: { value?: string }[] };
    expect(h.versions.map((v) => v.value)).toEqual(['v6']);
  });

  it("a killed node's robots show offline on the others (from its peer state); `fleetkv robots` says so", async () => {
    await waitFor(async () => (await robots(b)).find((r) => r.id === 'ra')?.online === true, 'ra online on rb after rb restarted');
    await a.kill9();
    await waitFor(async () => (await robots(b)).find((r) => r.id === 'ra')?.online === false, 'ra offline on rb', 20_000);
    const rb = (await robots(b)).find((r) => r.id === 'rb')!;
    expect(rb.online).toBe(true);
    const r = await runCli(['robots'], { env: { FLEETKV_URL: b.url } });
    expect(r.stdout.split('\n').find((l) => l.startsWith('ra '))).toMatch(/OFFLINE$/);
    // Back on a new port: it dials rb itself this time.
    a = await new NodeProc({ ...a.opts, env: { ...a.opts.env, FLEETKV_PEERS: peerAddress(b) } }).start();
    await waitFor(async () => (await robots(b)).find((x) => x.id === 'ra')?.online === true, 'ra online again on rb', 20_000);
  });
});
