/**
 * Identity mistakes operators make (issue 9 items 4, 5): a wiped data dir, a
 * data dir restored from an older copy, two live nodes with one id. Every
 * acknowledged write must reach the peer; a twin must refuse writes.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, expect, test } from 'vitest';
import { freePort } from '../helpers/mosquitto.js';
import { type NodeProc, tempDir, waitFor } from '../helpers/proc.js';
import { History, peerAddress, restart, startNode, stopAll, waitConverged } from './fleet.js';

const nodes: NodeProc[] = [];
afterAll(() => stopAll(nodes));

/** Writes to keys of their own (so no later write can hide a loss), then checks them all on `to`. */
async function writeAll(h: History, n: NodeProc, prefix: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const w = await h.put(n, `${prefix}/k${i}`);
    expect(w.outcome).toBe('ok');
  }
}

async function missingOn(to: NodeProc, prefix: string, count: number): Promise<number> {
  const r = (await (await to.fetch(`/v1/kv?prefix=${prefix}/`)).json()) as { count: number };
  return count - r.count;
}

/**
 * b writes 30, its stopped data dir is copied, then it restarts and writes 70 more that a
 * receives: the copy is now older than what a holds of b's stream.
 */
async function copyThenWriteMore(h: History, a: NodeProc, b: NodeProc): Promise<{ b: NodeProc; copy: string }> {
  await writeAll(h, b, 'one', 30);
  await waitConverged([a, b]);
  await b.stop();
  const copy = tempDir();
  execFileSync('cp', ['-a', `${b.opts.dataDir}/.`, copy]);
  const restarted = await restart(b);
  nodes.push(restarted);
  await writeAll(h, restarted, 'two', 70);
  await waitConverged([a, restarted]);
  return { b: restarted, copy };
}

/** Both twins write in turn until one of them refuses writes (at most 20 s). */
async function writeUntilOneTwinRefuses(h: History, b1: NodeProc, b2: NodeProc): Promise<void> {
  await waitFor(
    async () => {
      await h.put(b1, `t/b1-${h.writes.length}`);
      await h.put(b2, `t/b2-${h.writes.length}`);
      const [s1, s2] = await Promise.all([b1.status(), b2.status()]);
      return s1.writable === false || s2.writable === false;
    },
    'one twin to refuse writes',
    20_000,
  );
}

test('a wiped data dir restarted with the same id: every new acknowledged write reaches the peer', async () => {
  const a = await startNode('wa');
  let b = await startNode('wb', { peers: [peerAddress(a)] });
  nodes.push(a, b);
  const h = new History();
  await writeAll(h, b, 'before', 100);
  await waitConverged([a, b]);
  await b.stop();
  fs.rmSync(b.opts.dataDir, { recursive: true, force: true });
  b = await restart(b);
  nodes.push(b);
  await writeAll(h, b, 'after', 120);
  await waitFor(async () => (await missingOn(a, 'after', 120)) === 0, 'every write after the wipe on a', 10_000).catch(async () => {
    throw new Error(`${await missingOn(a, 'after', 120)} of 120 writes after the wipe never reached a`);
  });
  h.check(await waitConverged([a, b]));
});

test('a data dir restored from an older copy (cp -a while stopped): every new write reaches the peer', async () => {
  const a = await startNode('ra');
  let b = await startNode('rb', { peers: [peerAddress(a)] });
  nodes.push(a, b);
  const h = new History();
  const backup = await copyThenWriteMore(h, a, b);
  b = backup.b;
  const copy = backup.copy;
  await b.stop();
  fs.rmSync(b.opts.dataDir, { recursive: true, force: true });
  execFileSync('cp', ['-a', copy, b.opts.dataDir]);
  b = await restart(b);
  nodes.push(b);
  await writeAll(h, b, 'three', 30);
  await waitFor(async () => (await missingOn(a, 'three', 30)) === 0, 'every write after the restore on a', 10_000).catch(async () => {
    throw new Error(`${await missingOn(a, 'three', 30)} of 30 writes after the restore never reached a`);
  });
  h.check(await waitConverged([a, b]));
});

test('a restored node that writes alone before any peer answers: its writes still reach the peer later', async () => {
  const port = await freePort();
  let a = await startNode('la', { env: { FLEETKV_PEER_PORT: String(port) } });
  let b = await startNode('lb', { peers: [`127.0.0.1:${port}`] });
  nodes.push(a, b);
  const h = new History();
  const backup = await copyThenWriteMore(h, a, b);
  b = backup.b;
  const copy = backup.copy;
  await Promise.all([a.stop(), b.stop()]);
  fs.rmSync(b.opts.dataDir, { recursive: true, force: true });
  execFileSync('cp', ['-a', copy, b.opts.dataDir]);
  b = await restart(b); // a is down: nobody can tell b that its copy is old
  nodes.push(b);
  await writeAll(h, b, 'alone', 30);
  a = await restart(a);
  nodes.push(a);
  await waitFor(async () => (await missingOn(a, 'alone', 30)) === 0, 'every write made alone on a', 15_000).catch(async () => {
    throw new Error(`${await missingOn(a, 'alone', 30)} of 30 writes b made alone never reached a`);
  });
  h.check(await waitConverged([a, b]));
});

test('twins on the same peer: the later-started one refuses writes (409), is not ready, and redials with backoff', async () => {
  const a = await startNode('ta');
  const b1 = await startNode('tb', { peers: [peerAddress(a)] });
  nodes.push(a, b1);
  await waitFor(async () => (await a.status()).peers.some((p: any) => p.nodeId === 'tb' && p.state === 'live'), 'a–b1 live');
  const b2 = await startNode('tb', { peers: [peerAddress(a)] });
  nodes.push(b2);
  await waitFor(async () => (await b2.status()).writable === false, 'b2 not writable', 10_000);
  const r = await b2.put('x', 'from-twin');
  expect(r.status).toBe(409);
  expect(((await r.json()) as { error: { code: string } }).error.code).toBe('NODE_ID_CLASH');
  expect((await b2.fetch('/readyz')).status).toBe(503);
  const st = await b2.status();
  expect(st.unwritableReason).toMatch(/newcomer|clash/);
  // b1, the node that was there first, keeps taking writes.
  expect((await b1.put('y', 'from-b1')).status).toBe(200);
  // Redials back off: the attempt count grows ever more slowly (old code: ~25 a second for good).
  const t0 = performance.now();
  const clashes = (): number => a.logsMatching(/this one is the newcomer/).length;
  const c0 = clashes();
  await waitFor(() => clashes() >= c0 + 4, 'four more refused redials', 15_000);
  const perSecond = 4 / ((performance.now() - t0) / 1000);
  expect(perSecond).toBeLessThan(10);
});

test('twins through a third node (b1 on a, b2 on c, a–c linked): a twin sees its own id written by another and refuses writes', async () => {
  const a = await startNode('xa');
  const c = await startNode('xc', { peers: [peerAddress(a)] });
  const b1 = await startNode('xb', { peers: [peerAddress(a)] });
  let b2 = await startNode('xb', { peers: [peerAddress(c)] });
  nodes.push(a, c, b1, b2);
  // Two fresh data dirs started in the same minute draw the same incarnation 1 time in 256
  // (8 random bits, docs/adr/0002). Equal incarnations are a different case, one fleetkv does
  // not detect yet (the next test): that draw is what made this test time out once. Redraw.
  const inc1 = (await b1.status()).incarnation as number;
  for (let i = 0; i < 5 && (await b2.status()).incarnation === inc1; i++) {
    await b2.stop();
    fs.rmSync(b2.opts.dataDir, { recursive: true, force: true });
    b2 = await restart(b2);
    nodes.push(b2);
  }
  expect((await b2.status()).incarnation).not.toBe(inc1);
  const h = new History();
  // Both twins write; each one's stream reaches the other through a and c.
  await writeUntilOneTwinRefuses(h, b1, b2);
  const refusing = (await b1.status()).writable === false ? b1 : b2;
  expect((await refusing.status()).unwritableReason).toMatch(/clash/);
  const r = await refusing.put('t/late', 'x');
  expect(r.status).toBe(409);
  expect((await refusing.fetch('/readyz')).status).toBe(503);
});

/**
 * Twins with the SAME incarnation (cloned from one cleanly stopped image: both keep it, and no peer
 * holds more of it) write the same stream at the same pace through different peers. No vector ever
 * shows a seq beyond what the other stamped and the relay never hands a node entries of an origin it
 * is connected to: only content tells them apart. ACK stamps (src/replication/twins.ts) let a and c
 * compare the entries they hold under one (origin, inc, seq); the later-started twin is told it is
 * the newcomer. Before stamps: no refusal within 20 s (the robust branch's KNOWN GAP case).
 */
test('twins with the same incarnation (a cloned clean image) through a third node: the later-started one refuses writes', async () => {
  const seed = await startNode('yb');
  await seed.stop();
  const clone = tempDir();
  execFileSync('cp', ['-a', `${seed.opts.dataDir}/.`, clone]);
  const a = await startNode('ya');
  const c = await startNode('yc', { peers: [peerAddress(a)] });
  const b1 = await startNode('yb', { peers: [peerAddress(a)], dataDir: seed.opts.dataDir });
  const b2 = await startNode('yb', { peers: [peerAddress(c)], dataDir: clone });
  nodes.push(a, c, b1, b2);
  expect((await b2.status()).incarnation).toBe((await b1.status()).incarnation);
  const h = new History();
  await writeUntilOneTwinRefuses(h, b1, b2);
  // b2 started later: it is the newcomer; b1 keeps taking writes.
  const st = await b2.status();
  expect(st.writable).toBe(false);
  expect(st.unwritableReason).toMatch(/newcomer/);
  expect((await b2.put('t/late', 'x')).status).toBe(409);
  expect((await b1.put('t/after', 'x')).status).toBe(200);
  expect(a.logsMatching(/node id clash/).length + c.logsMatching(/node id clash/).length).toBeGreaterThan(0);
}, 60_000);
