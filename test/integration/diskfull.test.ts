import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProc } from '../helpers/proc.js';
import { TinyFs, canUnshare } from '../helpers/tinyfs.js';

/**
 * A real full filesystem: a 512 KiB tmpfs in a private mount namespace; the
 * node runs inside it, so it can be stopped and restarted on the same small
 * disk. Needs root (CI runs as root) and util-linux's unshare/nsenter.
 */
it('can build a private filesystem for the disk-full test (required in CI, which runs as root)', () => {
  if (process.env.CI) expect(canUnshare).toBe(true);
});

describe.runIf(canUnshare)('disk full on a real filesystem', () => {
  const disk = new TinyFs();
  const env = { FLEETKV_MQTT_ENABLED: 'false', FLEETKV_SEGMENT_BYTES: '1048576', FLEETKV_COMPACT_RATIO: '1000' };
  beforeAll(() => disk.start(512));
  afterAll(() => disk.stop());

  it('answers 507 DISK_FULL, stays up with its data, keeps nothing half-written, and writes again once space is back', async () => {
    const dataDir = `${disk.dir}/data`;
    const node = await new NodeProc({ nodeId: 'full', dataDir, env, wrap: disk.wrap }).start();
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
    disk.resize(4096);
    const after = await node.put('k/after', 'space is back');
    expect(after.status).toBe(200);
    acked.set('k/after', 'space is back');

    await node.kill9();
    const again = await new NodeProc({ nodeId: 'full', dataDir, env, wrap: disk.wrap }).start();
    expect(again.logsMatching(/torn write/)).toHaveLength(0); // nothing half-written survived
    const s = await again.status();
    expect(s.keys).toBe(acked.size);
    for (const [k, v] of acked) expect(await again.get(k)).toBe(v);
    await again.stop();
  });
});
