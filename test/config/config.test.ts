import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { isFleetError } from '../../src/errors.js';
import { tempDir } from '../helpers/proc.js';

describe('configuration', () => {
  it('has the documented defaults (DESIGN §6 contract)', () => {
    const c = loadConfig({ env: {} });
    expect(c).toMatchObject({
      fleetId: 'default',
      fleetSecret: '',
      peers: [],
      peer: { host: '0.0.0.0', port: 7400 },
      mqtt: { host: '0.0.0.0', port: 1883, prefix: 'fleet' },
      http: { host: '127.0.0.1', port: 7480 },
      log: { fsync: 'batch' },
      limits: { maxValueBytes: 1024 * 1024 },
      tombstoneRetention: 7 * 86_400_000,
      maxClockSkew: 60_000,
    });
    expect(c.nodeId).toBe(
      os
        .hostname()
        .replace(/[^A-Za-z0-9_.-]/g, '-')
        .slice(0, 64),
    );
    expect(c.dataDir).toBe(path.resolve('data', c.nodeId));
  });

  it('takes defaults < file < FLEETKV_* env < flags', () => {
    const d = tempDir('fleetkv-config-');
    const file = path.join(d, 'fleetkv.json');
    fs.writeFileSync(file, JSON.stringify({ nodeId: 'from-file', fleetId: 'file-fleet', http: { port: 1111 }, peers: ['a:1', 'b:2'], log: { fsync: 'always' } }));
    const env = { FLEETKV_FLEET_ID: 'env-fleet', FLEETKV_HTTP_PORT: '2222', FLEETKV_PEERS: 'c:3, d:4', FLEETKV_TOMBSTONE_RETENTION: '2d', FLEETKV_MAX_VALUE_BYTES: '64KiB' };
    const c = loadConfig({ file, env, args: ['--http-port', '3333'] });
    expect(c.nodeId).toBe('from-file');
    expect(c.fleetId).toBe('env-fleet');
    expect(c.http.port).toBe(3333);
    expect(c.peers).toEqual(['c:3', 'd:4']);
    expect(c.log.fsync).toBe('always');
    expect(c.tombstoneRetention).toBe(2 * 86_400_000);
    expect(c.limits.maxValueBytes).toBe(65536);
    fs.rmSync(d, { recursive: true });
  });

  it.each([
    [{ FLEETKV_FSYNC: 'sometimes' }, 'log.fsync'],
    [{ FLEETKV_MQTT_PORT: '-1' }, 'mqtt.port'],
    [{ FLEETKV_PEERS: 'host-without-port' }, 'peers'],
    [{ FLEETKV_TOMBSTONE_RETENTION: 'forever' }, 'tombstoneRetention'],
    [{ FLEETKV_NODE_ID: 'has space' }, 'node id'],
    [{ FLEETKV_MQTT_PREFIX: 'fleet/#' }, 'mqtt.prefix'],
  ])('refuses %j with CONFIG_INVALID naming %s', (env, what) => {
    let err: unknown;
    try {
      loadConfig({ env });
    } catch (e) {
      err = e;
    }
    expect(isFleetError(err, 'CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toContain(what);
  });
});
