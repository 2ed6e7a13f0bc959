import { describe, expect, it } from 'vitest';
import { formatStatus } from '../../src/cli/format.js';

describe('fleetkv status output', () => {
  it('shows node, keys, log, recovery, compaction, peers with lag and service sections at a glance', () => {
    const text = formatStatus({
      nodeId: 'r1',
      fleetId: 'yard',
      incarnation: 2,
      version: '0.1.0',
      state: 'running',
      writable: true,
      vector: { 'r1:1': 40, 'r1:2': 7, 'r2:1': 12 },
      keys: 10,
      tombstones: 1,
      log: { bytes: 3 * 1024 * 1024, fsync: 'batch', lastRecovery: { records: 59, ms: 3.4 }, lastCompaction: { at: '2026-11-24T01:00:00.000Z', bytesFreed: 2048, entries: 11, ms: 4 } },
      peers: [
        { nodeId: 'r2', state: 'live', address: '10.0.0.12:7400', lag: { entries: 3, ms: 120 } },
        { nodeId: 'r3', state: 'connecting', address: '10.0.0.13:7400' },
      ],
      mqtt: { clients: 2, pending: 0, ports: { mqtt: 1883 } },
    });
    expect(text.split('\n')).toEqual([
      'node      r1 (fleet yard, incarnation 2, v0.1.0) — running',
      'keys      10 live, 1 tombstones; 3 streams, 7 own writes this incarnation',
      'log       3.0 MiB, fsync=batch',
      'recovered 59 records in 3 ms',
      'compacted 2026-11-24T01:00:00.000Z (freed 2.0 KiB, 11 entries kept)',
      'peers     1 of 2 connected',
      '  r2               live        10.0.0.12:7400         lag 3 entries / 120 ms',
      '  r3               connecting  10.0.0.13:7400         ',
      'mqtt      clients=2, pending=0, mqtt=1883',
    ]);
  });

  it('a node alone and never compacted says so; a log error stands out', () => {
    const text = formatStatus({
      nodeId: 'r1',
      fleetId: 'default',
      incarnation: 1,
      version: '0.1.0',
      state: 'running',
      writable: true,
      vector: {},
      keys: 0,
      tombstones: 0,
      log: { bytes: 0, fsync: 'always', lastError: { code: 'DISK_FULL', message: 'no space left' } },
      peers: [],
    });
    expect(text).toContain('log       0 B, fsync=always, LAST ERROR DISK_FULL: no space left');
    expect(text).toContain('compacted never');
    expect(text).toContain('peers     none');
  });
});
