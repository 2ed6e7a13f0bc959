import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listLogDir, segmentPath } from '../../src/log/files.js';
import { NodeProc, runCli, tempDir } from '../helpers/proc.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
function dir(): string {
  const d = tempDir('fleetkv-recovery-');
  dirs.push(d);
  return d;
}
const ENV = { FLEETKV_MQTT_ENABLED: 'false', FLEETKV_SEGMENT_BYTES: '8192', FLEETKV_COMPACT_RATIO: '1000' };

async function fill(d: string, n: number): Promise<NodeProc> {
  const node = await new NodeProc({ nodeId: 'rec', dataDir: d, env: ENV }).start();
  for (let i = 0; i < n; i += 25) {
    await Promise.all(Array.from({ length: 25 }, (_, j) => node.put(`k/${i + j}`, `value-${i + j}`)));
  }
  return node;
}

describe('recovery of a real node process', () => {
  it('a torn last record: the node starts, warns, and holds every complete record', async () => {
    const d = dir();
    const node = await fill(d, 100);
    await node.stop();
    const last = segmentPath(d, listLogDir(d).segments.at(-1)!);
    fs.truncateSync(last, fs.statSync(last).size - 5); // the last record cut mid-way
    const again = await new NodeProc({ nodeId: 'rec', dataDir: d, env: ENV }).start();
    expect(again.logsMatching(/torn write/)).toHaveLength(1);
    expect(again.logs.find((l) => /torn write/.test(String(l.msg)))?.level).toBe(40); // warn
    const s = await again.status();
    expect(s.keys).toBe(99);
    expect(await again.get('k/98')).toBe('value-98');
    expect(await again.get('k/99')).toBeUndefined();
    // It keeps taking writes after the cut, and they survive.
    expect((await again.put('k/99', 'rewritten')).status).toBe(200);
    await again.stop();
    const third = await new NodeProc({ nodeId: 'rec', dataDir: d, env: ENV }).start();
    expect(await third.get('k/99')).toBe('rewritten');
    expect(third.logsMatching(/torn write/)).toHaveLength(0);
    await third.stop();
  });

  it('garbage after the last record is cut the same way', async () => {
    const d = dir();
    const node = await fill(d, 50);
    await node.stop();
    fs.appendFileSync(segmentPath(d, listLogDir(d).segments.at(-1)!), Buffer.from('\xde\xad\xbe\xef not a record at all'));
    const again = await new NodeProc({ nodeId: 'rec', dataDir: d, env: ENV }).start();
    expect(again.logsMatching(/torn write/)).toHaveLength(1);
    expect((await again.status()).keys).toBe(50);
    await again.stop();
  });

  it('corruption in an older segment: start-up refuses, naming file and offset; repair makes it start', async () => {
    const d = dir();
    const node = await fill(d, 600);
    await node.stop();
    const segs = listLogDir(d).segments;
    expect(segs.length).toBeGreaterThan(2);
    const old = segmentPath(d, segs[0]!);
    const buf = fs.readFileSync(old);
    buf[500] = buf[500]! ^ 0x10;
    fs.writeFileSync(old, buf);
    const refused = new NodeProc({ nodeId: 'rec', dataDir: d, env: ENV });
    await expect(refused.start()).rejects.toThrow(/exited/);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain(path.basename(old));
    expect(refused.stderr).toMatch(/offset \d+/);
    expect(refused.stderr).toContain('fleetkv repair');

    const verify = await runCli(['verify', '--data-dir', d], { env: { FLEETKV_NODE_ID: 'rec' } });
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/BAD .*CRC mismatch/);
    const repair = await runCli(['repair', '--data-dir', d], { env: { FLEETKV_NODE_ID: 'rec' } });
    expect(repair.code).toBe(0);
    expect(repair.stdout).toContain('new incarnation');
    const repairedMeta = JSON.parse(fs.readFileSync(path.join(d, 'node.json'), 'utf8')) as { incarnation: number };
    const repaired = await new NodeProc({ nodeId: 'rec', dataDir: d, env: ENV }).start();
    const s = await repaired.status();
    expect(s.incarnation).toBe(repairedMeta.incarnation); // repair renewed it and marked the stop clean
    expect(s.keys).toBeGreaterThan(0);
    expect(s.keys).toBeLessThan(600);
    await repaired.stop();
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('%s flushes the log, marks a clean stop and exits 0', async (sig) => {
    const d = dir();
    const node = await fill(d, 50);
    const inc = (await node.status()).incarnation as number;
    node.child.kill(sig);
    await node.waitExit();
    expect(node.exitCode).toBe(0);
    expect(node.logsMatching(/stopped cleanly/)).toHaveLength(1);
    expect(JSON.parse(fs.readFileSync(path.join(d, 'node.json'), 'utf8'))).toMatchObject({ cleanShutdown: true, incarnation: inc });
    const again = await new NodeProc({ nodeId: 'rec', dataDir: d, env: ENV }).start();
    expect((await again.status()).keys).toBe(50);
    await again.stop();
  });

  it('invalid configuration: a clear message and exit code 78', async () => {
    const d = dir();
    const cases: [Record<string, string>, string[], RegExp][] = [
      [{ FLEETKV_FSYNC: 'sometimes' }, [], /log\.fsync/],
      [{ FLEETKV_HTTP_PORT: '99999' }, [], /http\.port/],
      [{ FLEETKV_NODE_ID: 'bad id!' }, [], /node id/],
      [{ FLEETKV_PEERS: 'nohost' }, [], /peers/],
      [{}, ['--config', path.join(d, 'missing.json')], /does not exist/],
    ];
    fs.writeFileSync(path.join(d, 'unknown-key.json'), JSON.stringify({ nodeId: 'x', colour: 'blue' }));
    cases.push([{}, ['--config', path.join(d, 'unknown-key.json')], /colour/]);
    for (const [env, args, re] of cases) {
      const r = await runCli(['start', ...args], { env: { FLEETKV_DATA_DIR: d, FLEETKV_HTTP_PORT: '0', ...env } });
      expect(r.code, JSON.stringify(env)).toBe(78);
      expect(r.stderr).toMatch(re);
    }
  });
});
