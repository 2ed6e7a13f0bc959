import fs from 'node:fs';
import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeProc, tempDir } from '../helpers/proc.js';

/**
 * Crash safety (issue 2): a node in a child process takes concurrent HTTP PUTs
 * under fsync=batch and is killed with SIGKILL at a random moment; after a
 * restart every write that got a 2xx answer is there with its value (or a
 * later acknowledged value of the same key).
 */
const ROUNDS = 20;
const WRITERS = 16;

describe('crash safety under kill -9', () => {
  const dir = tempDir('fleetkv-crash-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(`keeps every acknowledged write across ${ROUNDS} kill -9 rounds`, { timeout: 300_000 }, async () => {
    // key -> values acknowledged, in acknowledgement order; a key's final value must be
    // its last acknowledged value or a value whose write was in flight (unknown) after it.
    const acked = new Map<string, string>();
    const inflight = new Map<string, Set<string>>();
    let totalAcked = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const node = await new NodeProc({ nodeId: 'crash', dataDir: dir, env: { FLEETKV_FSYNC: 'batch', FLEETKV_MQTT_ENABLED: 'false', FLEETKV_SEGMENT_BYTES: '65536' } }).start();
      // Everything acknowledged so far is there.
      for (const [key, value] of acked) {
        const got = await node.get(key);
        const allowed = inflight.get(key);
        if (got !== value) expect(allowed?.has(got ?? '<absent>'), `round ${round}: ${key} = ${got}, acknowledged ${value}`).toBe(true);
      }
      // Resolve the unknowns: whatever value is there now becomes the baseline.
      for (const key of inflight.keys()) {
        const got = await node.get(key);
        if (got !== undefined) acked.set(key, got);
      }
      inflight.clear();

      const agent = new http.Agent({ keepAlive: true, maxSockets: WRITERS });
      let stop = false;
      let n = 0;
      const writer = async (w: number): Promise<void> => {
        while (!stop) {
          const key = `r${w}/k${n % 40}`;
          const value = `round${round}-w${w}-n${n++}`;
          if (!inflight.has(key)) inflight.set(key, new Set());
          inflight.get(key)!.add(value);
          const ok = await new Promise<boolean>((resolve) => {
            const req = http.request(`${node.url}/v1/kv/${key}`, { method: 'PUT', agent }, (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode === 200));
              res.on('error', () => resolve(false));
            });
            req.on('error', () => resolve(false));
            req.end(value);
          });
          if (ok && !stop) {
            acked.set(key, value);
            inflight.get(key)!.delete(value);
            totalAcked++;
          }
          if (ok && stop) {
            // Acknowledged right as we killed: still acknowledged, must survive.
            acked.set(key, value);
            inflight.get(key)!.delete(value);
          }
        }
      };
      const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
      // Kill at a random point: after a random number of acknowledged writes.
      const target = totalAcked + 50 + Math.floor(Math.random() * 400);
      const t0 = Date.now();
      while (totalAcked < target && Date.now() - t0 < 10_000) await new Promise((r) => setImmediate(r));
      await node.kill9();
      stop = true;
      await Promise.all(writers);
      agent.destroy();
    }
    const node = await new NodeProc({ nodeId: 'crash', dataDir: dir, env: { FLEETKV_MQTT_ENABLED: 'false' } }).start();
    let checked = 0;
    for (const [key, value] of acked) {
      const got = await node.get(key);
      if (got !== value) expect(inflight.get(key)?.has(got ?? '<absent>'), `${key} = ${got}, acknowledged ${value}`).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThan(100);
    expect(totalAcked).toBeGreaterThan(ROUNDS * 50);
    await node.stop();
  });
});
