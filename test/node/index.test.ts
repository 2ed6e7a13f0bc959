import fs from 'node:fs';
import { expect, it } from 'vitest';
import { FleetError, createFleetNode, loadConfig } from '../../src/index.js';
import { tempDir } from '../helpers/proc.js';

it('the package entry point runs a node as a library, with the services the daemon runs (replication, MQTT, presence, HTTP)', async () => {
  const dir = tempDir('fleetkv-lib-');
  const node = createFleetNode(
    loadConfig({ env: {}, overrides: { nodeId: 'lib1', dataDir: dir, peer: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, mqtt: { host: '127.0.0.1', port: 0 }, log: { level: 'silent' } } }),
  );
  await node.start();
  // In start order; the node stops them in reverse (HTTP first).
  expect(node.services.map((s) => s.name)).toEqual(['replication', 'mqtt', 'presence', 'http']);
  const port = node.services.find((s) => s.name === 'http')?.ports?.().http;
  const status = (await (await fetch(`http://127.0.0.1:${port}/v1/status`)).json()) as { nodeId: string; http: { port: number } };
  expect(status).toMatchObject({ nodeId: 'lib1', http: { port } });
  await node.put('robots/r1/status', 'active');
  expect(node.get('robots/r1/status')?.value.toString()).toBe('active');
  await expect(node.put('bad//key', 'x')).rejects.toBeInstanceOf(FleetError);
  await node.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});
