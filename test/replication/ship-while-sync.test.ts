/**
 * Ship while you sync (issue 10 item 1, docs/adr/0104): an origin sends a
 * local write to its peers as soon as it is staged, in parallel with its
 * fsync; a receiver applies on arrival and its durable vector advances only
 * after its own fsync. Two in-process nodes over real TCP on 127.0.0.1; the
 * fsyncs of one are held by the test (test/helpers/faulty-io.ts).
 */
import { pino } from 'pino';
import { afterEach, expect, test } from 'vitest';
import type { Entry } from '../../src/entry/entry.js';
import type { LogIo } from '../../src/log/log.js';
import { FleetNode } from '../../src/node.js';
import { ReplicationService } from '../../src/replication/service.js';
import { heldFsyncIo, ioError } from '../helpers/faulty-io.js';
import { dump, testConfig } from '../helpers/node.js';
import { waitFor } from '../helpers/proc.js';
import { removeTempDir, tempDir } from '../helpers/temp.js';

const nodes: FleetNode[] = [];
const dirs: string[] = [];
const ios: ReturnType<typeof heldFsyncIo>[] = [];
/** A log io whose fsyncs the test can hold (released at the end, so a failed test still stops). */
function held(): ReturnType<typeof heldFsyncIo> {
  const io = heldFsyncIo();
  io.holding = false;
  ios.push(io);
  return io;
}
afterEach(async () => {
  for (const io of ios.splice(0)) {
    io.holding = false;
    while (io.held.length > 0) io.release();
  }
  for (const n of nodes.splice(0).reverse()) await n.stop().catch(() => {});
  for (const d of dirs.splice(0)) removeTempDir(d);
});

async function boot(nodeId: string, peers: string[], io?: LogIo, dir = tempDir('fleetkv-ship-')): Promise<FleetNode> {
  if (!dirs.includes(dir)) dirs.push(dir);
  const config = testConfig(dir, (c) => {
    c.nodeId = nodeId;
    c.mqtt.enabled = false;
    c.log.fsync = 'batch';
    c.replication.antiEntropyInterval = 50;
    c.replication.redialMin = 20;
    c.replication.redialMax = 200;
    c.replication.identityWait = 2000;
  });
  const node = new FleetNode(config, { logger: pino({ level: 'silent' }), ...(io ? { io } : {}), services: (n) => [new ReplicationService(n, { peers })] });
  await node.start();
  nodes.push(node);
  return node;
}

function peerAddr(n: FleetNode): string {
  const svc = n.services.find((s) => s.name === 'replication')!;
  return `127.0.0.1:${svc.ports!().peer!}`;
}

async function pair(ioA?: LogIo, ioB?: LogIo): Promise<[FleetNode, FleetNode]> {
  const a = await boot('a', [], ioA);
  const b = await boot('b', [peerAddr(a)], ioB);
  await waitFor(() => b.writable && (a.status().peers as { state: string }[]).some((p) => p.state === 'live'), 'b connected to a and writable');
  return [a, b];
}

function settled<T>(p: Promise<T>): { done: boolean; value?: T; error?: unknown } {
  const s: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (v) => Object.assign(s, { done: true, value: v }),
    (e: unknown) => Object.assign(s, { done: true, error: e }),
  );
  return s;
}

test("B's watch sees A's write before A's fsync completes; A's writer, local apply and watchers still wait for it", async () => {
  const io = held();
  const [a, b] = await pair(io);
  const seenOnB: string[] = [];
  b.watch('k', (e: Entry) => seenOnB.push(e.value.toString()));
  const seenOnA: string[] = [];
  a.watch('k', (e: Entry) => seenOnA.push(e.value.toString()));
  io.holding = true;
  const put = settled(a.put('k', 'v1'));
  // Shipped at staging: B has it while A's only fsync is still held.
  await waitFor(() => seenOnB.includes('v1'), "B's watch sees A's entry while A's fsync is held", 5000);
  expect(io.held.length).toBeGreaterThan(0);
  expect(put.done).toBe(false);
  expect(a.get('k')).toBeUndefined();
  expect(seenOnA).toEqual([]);
  expect(b.get('k')?.value.toString()).toBe('v1');
  io.holding = false;
  while (io.held.length > 0) io.release();
  await waitFor(() => put.done, 'the put is acknowledged after the fsync');
  expect(put.error).toBeUndefined();
  expect(a.get('k')?.value.toString()).toBe('v1');
  expect(seenOnA).toEqual(['v1']);
  // Sent once: B received exactly one live entry for it.
  await waitFor(async () => /entries_received_total\{mode="live"\} 1$/m.test(await b.metrics.registry.getSingleMetricAsString('fleetkv_replication_entries_received_total')), 'B received it once');
});

test('an origin whose batch failed after shipping never reuses (origin, inc, seq): it renews, and both nodes converge', async () => {
  const io = held();
  const [a, b] = await pair(io);
  const inc0 = a.incarnation;
  const seenOnB: Entry[] = [];
  b.watch('k', (e: Entry) => seenOnB.push(e));
  io.holding = true;
  const first = settled(a.put('k', 'lost-or-not'));
  await waitFor(() => seenOnB.length === 1, 'B has the shipped entry');
  io.holding = false;
  io.release(ioError('EIO', 'fdatasync'));
  await waitFor(() => first.done, 'the first put fails');
  expect((first.error as { code?: string }).code).toBe('IO_ERROR');
  expect(a.incarnation).not.toBe(inc0); // a new stream before the next write
  const second = await a.put('k', 'second');
  expect(second.inc).toBe(a.incarnation);
  expect(second.seq).toBe(1);
  const shipped = seenOnB[0]!;
  expect(`${second.inc}/${second.seq}`).not.toBe(`${shipped.inc}/${shipped.seq}`);
  // The second write is not taken for a duplicate of the first anywhere.
  await waitFor(() => b.get('k')?.value.toString() === 'second', 'B holds the second write');
  // "Unknown outcome": the failed write comes back to A from B; the states agree.
  const same = (x: FleetNode, y: FleetNode): boolean => x.store.durable.dominates(y.store.durable) && y.store.durable.dominates(x.store.durable);
  await waitFor(() => JSON.stringify(dump(a)) === JSON.stringify(dump(b)) && same(a, b), 'A and B equal').catch((err: unknown) => {
    throw new Error(`${(err as Error).message}: A ${JSON.stringify(a.store.durable.toObject())} ${JSON.stringify(dump(a))}; B ${JSON.stringify(b.store.durable.toObject())} ${JSON.stringify(dump(b))}`);
  });
  expect(a.store.durable.get(`a:${shipped.inc}`)).toBe(shipped.seq);
});

test('a receiver applies on arrival; its durable vector (ACK, HELLO, status) covers the entry only after its own fsync; a failed fsync there is taken again', async () => {
  const io = held();
  const [a, b] = await pair(undefined, io);
  const seenOnB: string[] = [];
  b.watch('k', (e: Entry) => seenOnB.push(e.value.toString()));
  io.holding = true;
  const r = await a.put('k', 'v1'); // A's own fsync is not held: acknowledged
  await waitFor(() => seenOnB.includes('v1'), "B's watch sees it while B's fsync is held", 5000);
  const stream = `a:${r.inc}`;
  expect(b.store.vector.get(stream)).toBe(r.seq); // applied
  expect(b.store.durable.get(stream)).toBe(r.seq - 1); // not claimed to peers
  expect((b.status().vector as Record<string, number>)[stream] ?? 0).toBe(r.seq - 1);
  // B's fsync fails: the durable vector never claims it; the connection drops, A resends, B logs it again.
  io.holding = false;
  io.release(ioError('EIO', 'fdatasync'));
  await waitFor(() => b.store.durable.get(stream) === r.seq, "B's durable vector covers it after A resent it", 10_000);
  expect(b.get('k')?.value.toString()).toBe('v1');
  // And B's log holds it: a restart of B (A stopped, so nothing is resent) still has it.
  const bDir = dirs[1]!;
  await a.stop();
  await b.stop();
  nodes.length = 0;
  const b2 = await boot('b', [], undefined, bDir);
  expect(b2.get('k')?.value.toString()).toBe('v1');
  expect(b2.store.durable.get(stream)).toBe(r.seq);
});

test('after a failed batch the origin ships only durable entries: a second failure shipped nothing, so it is renumbered in the same stream (one new stream per outage)', async () => {
  const io = held();
  const [a, b] = await pair(io);
  const seenOnB: Entry[] = [];
  b.watch('k', (e: Entry) => seenOnB.push(e));
  io.holding = true;
  const first = settled(a.put('k', 'first'));
  await waitFor(() => seenOnB.length === 1, 'B has the first entry, shipped at staging');
  io.release(ioError('EIO', 'fdatasync'));
  await waitFor(() => first.done, 'the first put fails');
  const inc1 = a.incarnation; // renewed: the failed entry had left
  // The next write waits for its fsync before it leaves: B does not see it while the fsync is held.
  const second = settled(a.put('k', 'second'));
  await waitFor(() => io.held.length === 1, "the second write's fsync is held");
  expect(seenOnB.length).toBe(1);
  io.release(ioError('EIO', 'fdatasync'));
  await waitFor(() => second.done, 'the second put fails');
  expect((second.error as { code?: string }).code).toBe('IO_ERROR');
  expect(a.incarnation).toBe(inc1); // nothing of it left the node: no new stream
  // A write that succeeds is shipped after its fsync, numbered where the failed one was.
  const third = settled(a.put('k', 'third'));
  await waitFor(() => io.held.length === 1, "the third write's fsync is held");
  expect(seenOnB.length).toBe(1);
  io.holding = false;
  io.release();
  await waitFor(() => third.done, 'the third put is acknowledged');
  expect(third.value).toMatchObject({ inc: inc1, seq: 1 });
  await waitFor(() => b.get('k')?.value.toString() === 'third', 'B holds the third write');
  expect(seenOnB.map((e) => e.value.toString())).toEqual(['first', 'third']);
  expect(a.incarnation).toBe(inc1);
});

test("a receiver's listeners run before its log stages the entry: what they defer to the turn's end (Aedes' delivery) still precedes the log's write", async () => {
  const io = held();
  const [a, b] = await pair(undefined, io);
  const writesWhen: { applied: number; deferred: number }[] = [];
  const writes = (): number => io.events.filter((e) => e.op === 'write').length;
  b.onApplied((e) => {
    if (e.key !== 'k') return;
    const at = { applied: writes(), deferred: -1 };
    writesWhen.push(at);
    // As Aedes' QoS 0 delivery does (setImmediate before the socket write).
    setImmediate(() => {
      at.deferred = writes();
    });
  });
  const w0 = writes();
  await a.put('k', 'v1');
  await waitFor(() => writesWhen.length === 1 && writesWhen[0]!.deferred >= 0, "B's listener and its deferred work ran");
  expect(writesWhen[0]).toEqual({ applied: w0, deferred: w0 });
  await waitFor(() => writes() > w0, "B's log writes it after");
});
