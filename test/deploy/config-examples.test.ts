import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { schema } from '../../src/config/schema.js';
import { ROOT } from '../helpers/proc.js';

/**
 * Every example in config/ must load. Sections that replication (peer.tls,
 * discovery) and MQTT (mqtt.tls) add may be undeclared until those land: an
 * example may fail only on keys under such a section, and only while the
 * schema lacks it. Once a section exists, its example must load as written.
 */
const PENDING = ['peer.tls', 'mqtt.tls', 'discovery'];
const declared = (dotted: string): boolean => dotted.split('.').reduce<any>((o, k) => (o === undefined ? undefined : o[k]), schema) !== undefined;

const examples = [...fs.readdirSync(path.join(ROOT, 'config'), { recursive: true })].map(String).filter((f) => f.endsWith('.json'));

describe('config/ examples', () => {
  it('are there: single robot, a static 3-robot fleet, mDNS discovery, TLS', () => {
    expect(examples.sort()).toEqual(['fleet-mdns.json', 'fleet-static/robot-1.json', 'fleet-static/robot-2.json', 'fleet-static/robot-3.json', 'fleet-tls.json', 'single-robot.json']);
  });

  for (const f of examples) {
    it(`${f} loads (or waits only for a section not yet in the schema)`, () => {
      const file = path.join(ROOT, 'config', f);
      try {
        const cfg = loadConfig({ file, env: {} });
        expect(cfg.nodeId).toMatch(/^robot-\d$/);
      } catch (err) {
        const lines = (err as Error).message.replace(/^invalid configuration: /, '').split('\n');
        for (const line of lines) {
          const key = /configuration param '([^']+)' not declared in the schema/.exec(line)?.[1];
          const section = PENDING.find((p) => key?.startsWith(`${p}.`));
          expect(section && !declared(section), `${f}: ${line}`).toBe(true);
        }
      }
    });
  }

  it('the static fleet lists every other robot as a peer', () => {
    for (const i of [1, 2, 3]) {
      const c = loadConfig({ file: path.join(ROOT, `config/fleet-static/robot-${i}.json`), env: {} });
      expect(c.peers.sort()).toEqual([1, 2, 3].filter((j) => j !== i).map((j) => `10.0.0.1${j}:7400`));
    }
  });
});
