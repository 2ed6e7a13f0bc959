import { afterEach, expect, test } from 'vitest';
import { NodeProc, runCli, tempDir, waitFor } from '../helpers/proc.js';

let node: NodeProc | undefined;
afterEach(async () => {
  await node?.stop();
  node = undefined;
});

test('fleetkv put --ttl stores an expiring key; a bad --ttl is TTL_INVALID and writes nothing', async () => {
  node = await new NodeProc({ nodeId: 'n1', dataDir: tempDir(), env: { FLEETKV_MQTT_ENABLED: 'false' } }).start();
  const env = { FLEETKV_URL: node.url };
  const ok = await runCli(['put', '--ttl', '5s', 'robots/r1/status', 'idle'], { env });
  expect(ok.code).toBe(0);
  expect(ok.stdout).toMatch(/^Stored robots\/r1\/status/);
  expect(await node.get('robots/r1/status')).toBe('idle');
  await waitFor(async () => (await runCli(['get', 'robots/r1/status'], { env })).code === 3, 'the key to expire (exit 3)', 10_000);
  const bad = await runCli(['put', '--ttl', 'forever', 'k', 'v'], { env });
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toContain('TTL_INVALID');
  expect(await node.get('k')).toBeUndefined();
  const nodes = await runCli(['nodes'], { env });
  expect(nodes.code).toBe(0);
  expect(nodes.stdout).toMatch(/n1 \(this node\)\s+online/);
});
