import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeStatus } from '../../src/node-status.js';
import { SERVICE_SECTIONS } from '../../src/node-status.js';
import { type NodeProc, runCli, waitFor } from '../helpers/proc.js';
import { peerAddress, startNode } from '../replication/fleet.js';

/** Top-level fields of /v1/status that formatStatus prints on its own lines (node, keys, log, peers). */
const CORE = new Set(['nodeId', 'fleetId', 'incarnation', 'version', 'state', 'writable', 'unwritableReason', 'vector', 'keys', 'tombstones', 'log', 'peers']);

/**
 * `fleetkv status` against a real node running every service (replication
 * with a live peer, MQTT, the uplink, presence, HTTP): each section of its
 * /v1/status (src/node-status.ts) is printed, read from its typed fields.
 */
describe('fleetkv status on a real node', () => {
  let a: NodeProc;
  let b: NodeProc;
  beforeAll(async () => {
    b = await startNode('st-b');
    a = await startNode('st-a', {
      peers: [peerAddress(b)],
      env: {
        FLEETKV_MQTT_ENABLED: 'true',
        FLEETKV_PRESENCE_ENABLED: 'true',
        // A broker that is not there: the uplink runs, reconnecting, and says so.
        FLEETKV_UPLINK_ENABLED: 'true',
        FLEETKV_UPLINK_URL: 'mqtt://127.0.0.1:1',
        FLEETKV_UPLINK_RECONNECT_PERIOD: '200ms',
      },
    });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  it('prints every section of /v1/status, each from its typed fields', async () => {
    await waitFor(async () => {
      const s = (await (await fetch(`${a.url}/v1/status`)).json()) as NodeStatus;
      return s.peers.some((p) => p.nodeId === 'st-b' && p.state === 'live');
    }, 'st-a live with st-b');
    const s = (await (await fetch(`${a.url}/v1/status`)).json()) as NodeStatus;
    // Every section the node reports is one the contract (and so the CLI) knows.
    const unknown = Object.keys(s).filter((k) => !CORE.has(k) && !(SERVICE_SECTIONS as readonly string[]).includes(k));
    expect(unknown).toEqual([]);
    expect(Object.keys(s).filter((k) => (SERVICE_SECTIONS as readonly string[]).includes(k))).toEqual(expect.arrayContaining(['mqtt', 'uplink', 'presence', 'http']));

    const r = await runCli(['status'], { env: { FLEETKV_URL: a.url } });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    const line = (label: string): string => lines.find((l) => l.startsWith(label.padEnd(9))) ?? `(no ${label} line in:\n${r.stdout})`;
    expect(line('node')).toContain(`st-a (fleet ${s.fleetId}, incarnation ${s.incarnation}, v${s.version}) — running`);
    expect(line('keys')).toMatch(/^keys {6}\d+ live, \d+ tombstones; \d+ streams, \d+ own writes this incarnation$/);
    expect(line('log')).toContain(`fsync=${s.log.fsync}`);
    expect(line('peers')).toBe('peers     1 of 1 connected');
    expect(lines.some((l) => /^ {2}st-b +live +\S+:\d+ +lag \d+ entries \/ \d+ ms/.test(l) || /^ {2}st-b +live +inbound/.test(l))).toBe(true);
    expect(line('mqtt')).toBe(`mqtt      clients=${s.mqtt!.clients}, pending=${s.mqtt!.pending}, mqtt=${s.mqtt!.ports.mqtt}`);
    expect(line('uplink')).toBe(`uplink    NOT CONNECTED, pending=${s.uplink!.pending}`);
    expect(line('presence')).toBe(`presence  timeout=${s.presence!.timeoutMs} ms`);
    expect(line('http')).toBe(`http      port=${a.ports.http}, watchers=0`);
  });

  it('fleetkv peers prints the same peer line', async () => {
    const r = await runCli(['peers'], { env: { FLEETKV_URL: a.url } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}st-b +live /m);
  });
});
