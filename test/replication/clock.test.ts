import { afterAll, expect, test } from 'vitest';
import { waitFor, type NodeProc } from '../helpers/proc.js';
import { metric, peerAddress, startNode, stopAll } from './fleet.js';

// Debian's faketime (installed by .ci/run).
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const nodes: NodeProc[] = [];
afterAll(() => stopAll(nodes));

test("an entry from a peer whose clock is 5 min ahead is applied, counted and logged; the receiver's next write still orders after it", async () => {
  const ahead = await startNode('ahead', { env: { LD_PRELOAD: LIBFAKETIME, FAKETIME: '+5m', FAKETIME_DONT_FAKE_MONOTONIC: '1' } });
  nodes.push(ahead);
  const local = await startNode('local', { peers: [peerAddress(ahead)] });
  nodes.push(local);
  const r = (await (await ahead.put('clock/k', 'from-the-future')).json()) as { hlc: string };
  await waitFor(async () => (await local.get('clock/k')) === 'from-the-future', 'the entry applied on local');
  expect(await metric(local, 'fleetkv_clock_skewed_entries_total')).toBeGreaterThanOrEqual(1);
  expect(await metric(local, 'fleetkv_clock_skewed_entries_total', 'origin="ahead"')).toBeGreaterThanOrEqual(1);
  expect(local.logsMatching(/the clock of node ahead is off: .* ahead of this clock, more than maxClockSkew/).length).toBeGreaterThanOrEqual(1);
  // local's HLC moved past the future timestamp: its own write to the key wins, and everywhere.
  const w = (await (await local.put('clock/k', 'later')).json()) as { hlc: string };
  expect(BigInt(w.hlc) > BigInt(r.hlc)).toBe(true);
  await waitFor(async () => (await ahead.get('clock/k')) === 'later', 'the later write wins on the fast node too');
});
