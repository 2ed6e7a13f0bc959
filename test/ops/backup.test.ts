import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeProc, runCli, tempDir } from '../helpers/proc.js';

/** Operator commands against real node processes: snapshot, restore, export, import. */
describe('backup and restore, export and import', () => {
  const nodes: NodeProc[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop();
  });
  const startNode = async (nodeId: string, dataDir: string): Promise<NodeProc> => {
    const n = await new NodeProc({ nodeId, dataDir, env: { FLEETKV_MQTT_ENABLED: 'false' } }).start();
    nodes.push(n);
    return n;
  };
  const cli = (node: NodeProc | undefined, args: string[], input?: string) => runCli(args, { ...(node ? { env: { FLEETKV_URL: node.url } } : {}), ...(input !== undefined ? { input } : {}) });

  /** The snapshot summary counts at least the seeded 51 keys and 1 tombstone (services such as MQTT keep records of their own under _fleetkv/). */
  function seededCounts(stdout: string, nodeId: string): boolean {
    const m = new RegExp(`node ${nodeId}, (\\d+) keys, (\\d+) tombstones`).exec(stdout);
    return m !== null && Number(m[1]) >= 51 && Number(m[2]) >= 1;
  }

  async function seed(n: NodeProc): Promise<void> {
    for (let i = 0; i < 50; i++) expect((await n.put(`robots/r${i}/pose`, `{"x":${i}}`)).status).toBe(200);
    expect((await n.put('blobs/bin', Buffer.from([0, 1, 2, 0xff]))).status).toBe(200);
    expect((await n.put('tmp/gone', 'x')).status).toBe(200);
    expect((await n.fetch('/v1/kv/tmp/gone', { method: 'DELETE' })).status).toBe(200);
  }

  it('snapshot of a running node, restored into its stopped data dir: same keys, a new incarnation, old files kept aside', async () => {
    const dir = tempDir();
    const dataDir = path.join(dir, 'data');
    const a = await startNode('b1', dataDir);
    await seed(a);
    const snap = path.join(dir, 'b1.snap');
    const s = await cli(a, ['snapshot', '--out', snap]);
    expect(s.stderr).toBe('');
    expect(s.code).toBe(0);
    expect(seededCounts(s.stdout, 'b1')).toBe(true);
    // Writes after the backup: lost locally by the restore (peers would send them back).
    expect((await a.put('robots/r0/pose', 'after-backup')).status).toBe(200);

    // Refused while the node runs, which keeps running with its data.
    const busy = await cli(undefined, ['restore', snap, '--node-id', 'b1', '--data-dir', dataDir]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/data dir .* is in use by process \d+/);
    expect(await a.get('robots/r0/pose')).toBe('after-backup');

    const incBefore = (await a.status()).incarnation as number;
    expect(await a.stop()).toBe(0);
    nodes.splice(nodes.indexOf(a), 1);
    fs.writeFileSync(path.join(dataDir, 'peers.json'), '{"lastSyncAt":"recent"}'); // replication's peer book
    const r = await cli(undefined, ['restore', snap, '--node-id', 'b1', '--data-dir', dataDir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const incAfter = Number(/Node b1 starts incarnation (\d+)/.exec(r.stdout)?.[1]);
    expect(incAfter).toBeGreaterThan(incBefore);
    const aside = /previous files are in (\S+)/.exec(r.stdout)?.[1];
    expect(aside && fs.readdirSync(aside).sort()).toEqual(['00000000000000000001.seg', 'node.json', 'peers.json']);
    expect(fs.readdirSync(dataDir).sort()).toEqual(['node.json', path.basename(aside!), 'snapshot-00000000000000000001.snap']);

    const b = await startNode('b1', dataDir);
    expect(await b.get('robots/r0/pose')).toBe('{"x":0}');
    expect(await b.get('robots/r49/pose')).toBe('{"x":49}');
    expect(await b.get('tmp/gone')).toBeUndefined();
    expect(Buffer.from(await (await b.fetch('/v1/kv/blobs/bin')).arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 0xff]));
    const st = await b.status();
    expect(st.incarnation).toBe(incAfter);
    expect(st.vector[`b1:${incBefore}`]).toBeGreaterThanOrEqual(53);
    const w = (await (await b.put('robots/r0/pose', 'new')).json()) as { inc: number; seq: number };
    expect(w.inc).toBe(incAfter); // a new stream: seqs of the old incarnation written after the backup are never reused
    expect(w.seq).toBeLessThan(5); // numbered from the start of the new stream (a service may have written first)
  });

  it('offline snapshot of a stopped node; a damaged snapshot is refused and the data dir left alone', async () => {
    const dir = tempDir();
    const dataDir = path.join(dir, 'data');
    const a = await startNode('c1', dataDir);
    await seed(a);
    await a.stop();
    nodes.splice(0);
    const snap = path.join(dir, 'c1.snap');
    const s = await cli(undefined, ['snapshot', '--out', snap, '--data-dir', dataDir, '--node-id', 'c1']);
    expect(s.code).toBe(0);
    expect(seededCounts(s.stdout, 'c1')).toBe(true);

    const bad = path.join(dir, 'bad.snap');
    const bytes = fs.readFileSync(snap);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    fs.writeFileSync(bad, bytes);
    const target = path.join(dir, 'other');
    const r = await cli(undefined, ['restore', bad, '--node-id', 'c2', '--data-dir', target]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.snap is not a usable fleetkv snapshot: CRC mismatch at offset \d+/);
    expect(fs.existsSync(target)).toBe(false);
    const truncated = path.join(dir, 'short.snap');
    fs.writeFileSync(truncated, fs.readFileSync(snap).subarray(0, bytes.length - 9));
    expect((await cli(undefined, ['restore', truncated, '--node-id', 'c2', '--data-dir', target])).stderr).toMatch(/not a usable fleetkv snapshot/);

    // A good one restores onto another node id too (seeding a new robot).
    const ok = await cli(undefined, ['restore', snap, '--node-id', 'c2', '--data-dir', target]);
    expect(ok.code).toBe(0);
    // The one incarnation rule (docs/adr/0002): clock-based even for a fresh id, so a second restore
    // of the same backup onto a wiped c2 never repeats the first one's incarnation.
    const fresh = Number(/Node c2 starts incarnation (\d+)/.exec(ok.stdout)?.[1]);
    expect(fresh).toBeGreaterThan(Math.floor((Date.now() - Date.UTC(2024, 0, 1)) / 60_000 - 5) * 256);
    const c2 = await startNode('c2', target);
    expect(await c2.get('robots/r7/pose')).toBe('{"x":7}');
  });

  it('export as JSON lines, import into another node; bad lines are refused by number and the rest imported', async () => {
    const dir = tempDir();
    const a = await startNode('e1', path.join(dir, 'a'));
    await seed(a);
    const out = path.join(dir, 'all.jsonl');
    const ex = await cli(a, ['export', '--out', out]);
    expect(ex.code).toBe(0);
    const lines = fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(ex.stderr).toContain(`Exported ${lines.length} keys`);
    expect(lines.filter((l) => /^(robots|blobs)\//.test(String(l.key)))).toHaveLength(51);
    expect(lines.find((l) => l.key === 'blobs/bin')).toMatchObject({ value: Buffer.from([0, 1, 2, 0xff]).toString('base64'), encoding: 'base64', origin: 'e1' });
    const prefixed = await cli(a, ['export', 'robots/r1']);
    expect(
      prefixed.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { key: string }).key),
    ).toEqual(['robots/r1/pose', ...Array.from({ length: 10 }, (_, i) => `robots/r1${i}/pose`)]);

    const b = await startNode('e2', path.join(dir, 'b'));
    const good = await cli(b, ['import', out]);
    expect(good.stdout).toContain(`Imported ${lines.length} of ${lines.length} lines`);
    expect(good.code).toBe(0);
    expect(Buffer.from(await (await b.fetch('/v1/kv/blobs/bin')).arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 0xff]));
    expect(await b.get('robots/r33/pose')).toBe('{"x":33}');
    // Imported values are new writes of the importing node.
    expect((await b.fetch('/v1/kv/robots/r33/pose')).headers.get('x-fleetkv-origin')).toBe('e2');

    const mixed = [
      '{"key":"ok/one","value":"1"}',
      'not json',
      '{"key":"bad+key","value":"x"}',
      '{"key":"ok/two","value":"AAE=","encoding":"base64"}',
      '{"value":"no key"}',
      '',
      '{"key":"robots/r1/pose","op":"del"}',
      ...Array.from({ length: 30 }, (_, i) => `{"key":"ok/order","value":"v${i}"}`),
    ].join('\n');
    const r = await cli(b, ['import', '-'], mixed);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Imported 33 of 36 lines (3 refused: see above)');
    expect(r.stderr).toContain('line 2: not valid JSON');
    expect(r.stderr).toMatch(/line 3: bad\+key: .*/);
    expect(r.stderr).toContain('line 5: "key" must be a non-empty string');
    expect(await b.get('ok/one')).toBe('1');
    expect(Buffer.from(await (await b.fetch('/v1/kv/ok/two')).arrayBuffer())).toEqual(Buffer.from([0, 1]));
    expect(await b.get('robots/r1/pose')).toBeUndefined();
    expect(await b.get('ok/order')).toBe('v29'); // lines for one key land in file order
    expect((await b.fetch('/healthz')).status).toBe(200);
  });

  it('offline export reads a stopped node', async () => {
    const dir = tempDir();
    const a = await startNode('o1', path.join(dir, 'a'));
    await seed(a);
    await a.stop();
    nodes.splice(0);
    const r = await cli(undefined, ['export', 'robots/r4', '--offline', '--data-dir', path.join(dir, 'a'), '--node-id', 'o1']);
    expect(r.code).toBe(0);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { value: string }).value),
    ).toEqual(['{"x":4}', ...Array.from({ length: 10 }, (_, i) => `{"x":${40 + i}}`)]);
  });
});
