import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeProc, tempDir, waitFor } from '../helpers/proc.js';

/**
 * A directory fsync that fails during a segment roll, injected into a real
 * node process with libfiu (Debian's fiu-utils): `fiu-run -x` preloads the
 * POSIX wrappers, `fiu-ctrl` switches `posix/io/sync/fsync` on and off while
 * the node runs (its data fsyncs are fdatasync, which stays healthy).
 */
const hasFiu = fs.existsSync('/usr/bin/fiu-run') && fs.existsSync('/usr/bin/fiu-ctrl');

it('has fiu-utils for the roll-fault test (required in CI, which installs it)', () => {
  if (process.env.CI) expect(hasFiu).toBe(true);
});

describe.runIf(hasFiu)('segment roll under a failing directory fsync', () => {
  const dir = tempDir('fleetkv-rollfault-');
  const ctl = path.join(dir, 'fiu');
  let node: NodeProc | undefined;
  afterAll(async () => {
    await node?.stop().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function fiu(cmd: string): void {
    const r = spawnSync('fiu-ctrl', ['-f', ctl, '-c', cmd, String(node!.pid)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`fiu-ctrl ${cmd}: ${r.stderr}`);
  }

  it('keeps taking writes, logs a few rate-limited errors instead of one per batch, and rolls again once fsync works; nothing is lost', async () => {
    const env = { FLEETKV_MQTT_ENABLED: 'false', FLEETKV_REPLICATION_ENABLED: 'false', FLEETKV_SEGMENT_BYTES: '16384', FLEETKV_COMPACT_RATIO: '1000' };
    const opts = { nodeId: 'roll', dataDir: path.join(dir, 'data'), env, wrap: (argv: string[]) => ['fiu-run', '-x', '-f', ctl, ...argv] };
    node = await new NodeProc(opts).start();
    const acked = new Map<string, string>();
    const value = (i: number): string => `${i}-`.padEnd(500, 'v');
    let n = 0;
    const burst = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i += 10) {
        const rs = await Promise.all(
          Array.from({ length: 10 }, async () => {
            const k = `roll/${n++}`;
            return [k, await node!.put(k, value(n))] as const;
          }),
        );
        for (const [k, r] of rs) {
          expect(r.status, `PUT ${k}`).toBe(200);
          acked.set(k, value(Number(k.slice(5)) + 1));
        }
      }
    };
    await burst(100);
    const before = (await node.status()).log.activeSegment as number;
    fiu('enable name=posix/io/sync/fsync,failinfo=5');
    const t0 = Date.now();
    await burst(600); // ~300 KB into 16 KiB segments: a roll is due at nearly every batch
    const faultMs = Date.now() - t0;
    const rollErrors = node.logsMatching(/segment roll/).length;
    expect(rollErrors).toBeGreaterThanOrEqual(1);
    // Retries back off from 1 s (doubling): at most one line per second of fault, not one per batch.
    expect(rollErrors).toBeLessThanOrEqual(Math.ceil(faultMs / 1000) + 1);
    expect(node.logsMatching(/EEXIST/).length).toBe(0);
    expect((await node.fetch('/healthz')).status).toBe(200);
    const stuck = (await node.status()).log.activeSegment as number;
    expect(stuck).toBeLessThanOrEqual(before + 1);
    fiu('disable name=posix/io/sync/fsync');
    await waitFor(async () => (await burst(20), ((await node!.status()).log.activeSegment as number) > stuck + 1), 'segments to roll again', 60_000, 100);
    // Restart: every acknowledged write is there.
    await node.stop();
    node = await new NodeProc(opts).start();
    const body = (await (await node.fetch('/v1/kv?prefix=roll/&limit=100000')).json()) as { entries: { key: string; value: string }[] };
    const held = new Map(body.entries.map((e) => [e.key, e.value]));
    for (const [k, v] of acked) expect(held.get(k), k).toBe(v);
  });
});
