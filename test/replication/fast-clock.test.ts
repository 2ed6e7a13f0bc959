import { afterEach, expect, test } from 'vitest';
import { waitFor, type NodeProc } from '../helpers/proc.js';
import { TestClient } from '../mqtt/mqtt-helpers.js';
import { metric, peerAddress, readState, restart, startNode, stopAll, waitConverged } from './fleet.js';

/**
 * A node whose clock is a year ahead (Debian's libfaketime, FAKETIME='+365d'),
 * with real node processes: it must neither make deleted keys come back
 * (tombstone GC by causal stability, not by its own clock) nor drag the
 * others' clocks a year ahead for good (bounded HLC adoption), docs/adr/0103.
 */
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const YEAR_AHEAD = { LD_PRELOAD: LIBFAKETIME, FAKETIME: '+365d', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
const GC = { FLEETKV_TOMBSTONE_GC_INTERVAL: '100ms' };
const YEAR_MS = 365 * 86_400_000;

let nodes: NodeProc[] = [];
afterEach(async () => {
  await stopAll(nodes);
  nodes = [];
});

function wallOf(hlc: string): number {
  return Number(BigInt(hlc) >> 16n);
}

async function writeHlc(n: NodeProc, key: string, value: string): Promise<string> {
  const r = await n.put(key, value);
  expect(r.status).toBe(200);
  return ((await r.json()) as { hlc: string }).hlc;
}

async function gcRuns(n: NodeProc): Promise<number> {
  return metric(n, 'fleetkv_tombstone_gc_runs_total');
}

test('a delete seen through a node a year ahead is not collected there before its peer has it: the deleted key does not come back on the peer that syncs only from it', async () => {
  const a = await startNode('a', { env: GC });
  nodes.push(a);
  const fast = await startNode('fast', { peers: [peerAddress(a)], env: { ...GC, ...YEAR_AHEAD } });
  nodes.push(fast);
  let b = await startNode('b', { peers: [peerAddress(fast)], env: GC }); // b's only peer is the fast node
  nodes.push(b);
  await writeHlc(a, 'gc/k', 'alive');
  await waitFor(async () => (await b.get('gc/k')) === 'alive', 'b to hold gc/k');
  await b.stop(); // away for a while (far less than tombstoneRetention)
  const r = await a.fetch('/v1/kv/gc/k', { method: 'DELETE' });
  expect(r.status).toBe(200);
  await waitFor(async () => (await fast.get('gc/k')) === undefined, 'the delete to reach the fast node');
  // Several GC passes on the fast node while b lacks the tombstone: it is kept.
  const runs = await gcRuns(fast);
  await waitFor(async () => (await gcRuns(fast)) >= runs + 5, 'five GC passes on the fast node');
  expect((await fast.status()).tombstones).toBe(1);
  b = await restart(b);
  nodes.push(b);
  await waitFor(async () => (await b.get('gc/k')) === undefined, 'the delete to reach b through the fast node', 20_000);
  // Once b holds it, it is causally stable: collected on the fast node (and on a), and gc/k stays gone.
  await waitFor(async () => (await fast.status()).tombstones === 0 && (await a.status()).tombstones === 0, 'the tombstone collected once every peer has it', 20_000);
  await waitConverged([a, fast, b]);
  expect(await b.get('gc/k')).toBeUndefined();
  expect((await readState(b)).has('gc/k')).toBe(false);
});

test('after a node a year ahead has been seen and left, the others stamp real time (also after a restart), and a later write on a node that was away wins', async () => {
  const a = await startNode('a');
  nodes.push(a);
  let c = await startNode('c', { peers: [peerAddress(a)] });
  nodes.push(c);
  await writeHlc(c, 'drag/x', 'c-first');
  await waitConverged([a, c]);
  await c.stop(); // c is away from here on
  const fast = await startNode('fast', { peers: [peerAddress(a)], env: YEAR_AHEAD });
  nodes.push(fast);
  const f = await writeHlc(fast, 'drag/f', 'from-the-future');
  expect(wallOf(f)).toBeGreaterThan(Date.now() + YEAR_MS / 2);
  await waitFor(async () => (await a.get('drag/f')) === 'from-the-future', "a to apply the fast node's entry");
  // The warning and the metric name the node whose clock is off.
  expect(a.logsMatching(/the clock of node fast is off/).length).toBeGreaterThanOrEqual(1);
  expect(await metric(a, 'fleetkv_clock_skewed_entries_total', 'origin="fast"')).toBeGreaterThanOrEqual(1);
  // a's own clock did not follow: its write is stamped now, not a year ahead.
  const ax = await writeHlc(a, 'drag/x', 'a-after-fast');
  expect(Math.abs(wallOf(ax) - Date.now())).toBeLessThan(30_000);
  // Read, then write: a write over the fast node's value still wins (ordered after the value held).
  const af = await writeHlc(a, 'drag/f', 'a-over-the-future');
  expect(BigInt(af) > BigInt(f)).toBe(true);
  await waitFor(async () => (await fast.get('drag/f')) === 'a-over-the-future', "a's later write to win on the fast node too");
  await fast.stop(); // the fast node leaves
  await a.stop();
  const a2 = await restart(a);
  nodes.push(a2);
  expect(a2.logsMatching(/the log holds \d+ entries stamped more than maxClockSkew ahead/).length).toBe(1);
  const ay = await writeHlc(a2, 'drag/y', 'a-after-restart');
  expect(Math.abs(wallOf(ay) - Date.now())).toBeLessThan(30_000); // recovery did not adopt the far future either
  // c, away all along, writes drag/x later in real time than a did, then comes back: its write wins.
  c = await startNode('c', { dataDir: c.opts.dataDir, peers: [peerAddress(a2)] }); // a2 listens on a new port
  nodes.push(c);
  await writeHlc(c, 'drag/x', 'c-later');
  await waitFor(async () => (await a2.get('drag/x')) === 'c-later' && (await c.get('drag/x')) === 'c-later', "c's later write to win everywhere", 20_000);
  await waitConverged([a2, c]);
});

test('after a node a year ahead has been seen, writes to one key seconds apart are not reported as concurrent conflicts; writes that race still are', async () => {
  const env = { FLEETKV_MAX_CLOCK_SKEW: '1s' };
  const a = await startNode('a', { env: { ...env, FLEETKV_MQTT_ENABLED: 'true' } });
  nodes.push(a);
  const b = await startNode('b', { peers: [peerAddress(a)], env });
  nodes.push(b);
  const fast = await startNode('fast', { peers: [peerAddress(a)], env: { ...env, ...YEAR_AHEAD } });
  nodes.push(fast);
  await writeHlc(fast, 'cf/f', 'from-the-future');
  await waitFor(async () => (await b.get('cf/f')) === 'from-the-future', "b to apply the fast node's entry");
  const sub = await TestClient.connect(`mqtt://127.0.0.1:${a.ports.mqtt}`, { clientId: 'conflicts-watch' });
  try {
    await sub.client.subscribeAsync('fleet/conflicts', { qos: 1 });
    await writeHlc(a, 'cf/k', 'a-first');
    const t0 = Date.now();
    await waitFor(async () => (await b.get('cf/k')) === 'a-first', "b to hold a's write");
    await waitFor(() => Date.now() - t0 > 3000, 'three times maxClockSkew to pass', 10_000, 50);
    await writeHlc(b, 'cf/k', 'b-later');
    await waitFor(async () => (await a.get('cf/k')) === 'b-later', "b's later write to win on a");
    // A real race on another key, as a control: reported (concurrent on one side or superseded).
    await Promise.all([writeHlc(a, 'cf/race', 'a-race'), writeHlc(b, 'cf/race', 'b-race')]);
    const race = await sub.waitMessage((m) => (JSON.parse(m.payload) as { key: string }).key === 'cf/race', 'a conflict report for the race');
    expect(['concurrent', 'superseded']).toContain((JSON.parse(race.payload) as { reason: string }).reason);
    const onK = sub
      .on('fleet/conflicts')
      .map((m) => JSON.parse(m.payload) as { key: string; reason: string })
      .filter((m) => m.key === 'cf/k');
    expect(onK).toEqual([]);
  } finally {
    await sub.end();
  }
});

test('a node whose clock was a year ahead when it last synced, then fixed, does not know it was away longer than tombstoneRetention: its peer, which has not seen it within the retention, sends a full resync and the deleted key does not come back', async () => {
  const env = { ...GC, FLEETKV_TOMBSTONE_RETENTION: '2s' };
  const a = await startNode('a', { env });
  nodes.push(a);
  const x = await startNode('x', { peers: [peerAddress(a)], env: { ...env, ...YEAR_AHEAD } });
  nodes.push(x);
  await writeHlc(a, 'away/k', 'alive');
  await writeHlc(a, 'away/keep', 'kept');
  await waitConverged([a, x]);
  await x.stop(); // its peer book says it last synced a year from now
  const r = await a.fetch('/v1/kv/away/k', { method: 'DELETE' });
  expect(r.status).toBe(200);
  // x is no longer seen within the retention: a collects the tombstone x never got.
  await waitFor(async () => (await a.status()).tombstones === 0, 'a to collect the tombstone', 20_000);
  // x comes back with its clock fixed: by its own book it was never away.
  const x2 = await startNode('x', { dataDir: x.opts.dataDir, peers: [peerAddress(a)], env });
  nodes.push(x2);
  expect(x2.logsMatching(/away longer than tombstoneRetention/).length).toBe(0);
  await waitFor(async () => (await x2.get('away/k')) === undefined, 'the deleted key dropped on x by a full resync from a', 20_000);
  expect(x2.logsMatching(/dropping 1 keys deleted in the fleet/).length).toBe(1);
  expect(await x2.get('away/keep')).toBe('kept');
  await waitConverged([a, x2]);
});
