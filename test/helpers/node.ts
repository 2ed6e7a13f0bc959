import { pino } from 'pino';
import { finishConfig, loadConfig } from '../../src/config/load.js';
import type { FleetConfig } from '../../src/config/schema.js';
import { FleetNode, type FleetNodeOptions } from '../../src/node.js';

/** Config for an in-process test node: loopback, ports 0, no peers, quiet. */
export function testConfig(dataDir: string, patch: (c: FleetConfig) => void = () => {}): FleetConfig {
  const c = loadConfig({ env: {}, file: undefined });
  c.nodeId = 'test-node';
  c.dataDir = dataDir;
  c.http.port = 0;
  c.peer.port = 0;
  c.mqtt.port = 0;
  c.http.host = c.peer.host = c.mqtt.host = '127.0.0.1';
  patch(c);
  return finishConfig(c);
}

/** A core-only node in this process (no services: no replication, MQTT or HTTP), not started; tests and bench/ use it. */
export function coreNode(dataDir: string, patch?: (c: FleetConfig) => void, opts: FleetNodeOptions = {}): FleetNode {
  return new FleetNode(testConfig(dataDir, patch), { logger: pino({ level: 'silent' }), services: () => [], ...opts });
}

/** coreNode, started. */
export async function startCoreNode(dataDir: string, patch?: (c: FleetConfig) => void, opts: FleetNodeOptions = {}): Promise<FleetNode> {
  const node = coreNode(dataDir, patch, opts);
  await node.start();
  return node;
}

/** Every live key → value text, for comparing whole states. */
export function dump(node: FleetNode): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of node.list('')) out[e.key] = e.value.toString('utf8');
  return out;
}
