import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProc, tempDir, waitFor } from '../helpers/proc.js';

/**
 * A real full filesystem: a 512 KiB tmpfs mounted in a private mount
 * namespace held open by a `sleep` process; the node runs inside that
 * namespace (nsenter), so it can be stopped and restarted on the same small
 * disk. Needs root (CI runs as root) and util-linux's unshare/nsenter.
 */
const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true']).status === 0 && spawnSync('nsenter', ['--version']).status === 0;

it('can build a private filesystem for the disk-full test (required in CI, which runs as root)', () => {
  if (process.env.CI) expect(canUnshare).toBe(true);
});

describe.runIf(canUnshare)('disk full on a real filesystem', () => {
  const mnt = tempDir('fleetkv-full-');
  let holder: ChildProcess;
  const inNs = (argv: string[]): string[] => ['nsenter', '-t', String(holder.pid), '-m', '--', ...argv];
  const env = { FLEETKV_MQTT_ENABLED: 'false', FLEETKV_SEGMENT_BYTES: '1048576', FLEETKV_COMPACT_RATIO: '1000' };

  beforeAll(async () => {
    holder = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o size=512k tmpfs '${mnt}' && echo mounted && exec sleep 3600`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    holder.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('mounted'), 'tmpfs mounted');
  });
  afterAll(() => {
    holder?.kill('SIGKILL');
    fs.rmSync(mnt, { recursive: true, force: true });
  });

  it('answers 507 DISK_FULL, stays up with its data, keeps nothing half-written, and writes again once space is back', async () => {
    const dataDir = `${mnt}/data`;
    const node = await new NodeProc({ nodeId: 'full', dataDir, env, wrap: inNs }).start();
    const acked = new Map<string, string>();
    let full: Response | undefined;
    const value = (i: number): string => `${i}-`.padEnd(8000, 'x');
    for (let i = 0; i < 200 && !full; i += 4) {
      // Small concurrent bursts, so the disk fills in the middle of a group commit.
      const rs = await Promise.all([0, 1, 2, 3].map(async (j) => [i + j, await node.put(`k/${i + j}`, value(i + j))] as const));
      for (const [n, r] of rs) {
        if (r.status === 200) acked.set(`k/${n}`, value(n));
        else full ??= r;
      }
    }
    expect(full?.status).toBe(507);
    expect(((await full!.json()) as { error: { code: string } }).error.code).toBe('DISK_FULL');
    expect(acked.size).toBeGreaterThan(10);
    // Still up: health, reads, status with the error shown.
    expect((await node.fetch('/healthz')).status).toBe(200);
    expect(await node.get('k/0')).toBe(value(0));
    expect((await node.status()).log.lastError?.code).toBe('DISK_FULL');
    expect((await node.put('k/more', 'x'.repeat(8000))).status).toBe(507);

    // Space comes back: grow the filesystem inside the namespace.
    expect(spawnSync('nsenter', ['-t', String(holder.pid), '-m', '--', 'mount', '-o', 'remount,size=4m', mnt]).status).toBe(0);
    const after = await node.put('k/after', 'space is back');
    expect(after.status).toBe(200);
    acked.set('k/after', 'space is back');

    await node.kill9();
    const again = await new NodeProc({ nodeId: 'full', dataDir, env, wrap: inNs }).start();
    expect(again.logsMatching(/torn write/)).toHaveLength(0); // nothing half-written survived
    const s = await again.status();
    expect(s.keys).toBe(acked.size);
    for (const [k, v] of acked) expect(await again.get(k)).toBe(v);
    await again.stop();
  });
});
