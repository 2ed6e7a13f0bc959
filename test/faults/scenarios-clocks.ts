import fs from 'node:fs';
import type { Outcome } from '../helpers/checker.js';
import { waitFor, type NodeProc } from '../helpers/proc.js';
import { metric } from '../replication/fleet.js';
import type { Scenario, ScenarioContext } from './lib/campaign.js';

/**
 * Campaign scenarios for bad clocks (issue 9, items 7 and 8; docs/adr/0103).
 *
 * "fast clock with deletes": n0's clock is a year ahead (libfaketime) and it
 * is the only link between n1 and n2. Keys are deleted on n1 while n2 is cut
 * off from n0; n0 runs its tombstone GC many times meanwhile. A GC that
 * trusted n0's own clock would drop each tombstone at once, and n2 would keep
 * the deleted keys for good (equal vectors, nothing left to repair). The
 * checker counts a delete undone by the older value as lost; it must find 0.
 * n0 takes no part in the campaign's writes (its writes would win every race
 * for a year, which LWW allows and the skew scenarios measure), but stamps
 * writes of its own meanwhile, so its far-ahead clock is seen by everyone.
 */
const FAKETIME_LIB = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1'].find((p) => fs.existsSync(p));
const ROUNDS = 4;

async function send(ctx: ScenarioContext, node: NodeProc, key: string, value: string | undefined): Promise<Outcome> {
  const op = { node: node.opts.nodeId, key, value, outcome: 'unknown' as Outcome, start: ctx.workload.now(), end: Infinity };
  ctx.workload.ops.push(op);
  try {
    const r = await node.fetch(`/v1/kv/${key}`, value === undefined ? { method: 'DELETE', signal: AbortSignal.timeout(10_000) } : { method: 'PUT', body: value, signal: AbortSignal.timeout(10_000) });
    op.outcome = r.status === 200 ? 'ok' : 'failed';
  } catch {
    op.outcome = 'unknown';
  }
  op.end = ctx.workload.now();
  return op.outcome;
}

export const scenarios: Scenario[] = [
  {
    name: 'fast clock with deletes (n0 a year ahead, the only link between n1 and n2; libfaketime)',
    ci: true,
    workload: { paused: ['n0'] },
    fleet: {
      linked: (i, j) => !(i === 1 && j === 2),
      env: { FLEETKV_TOMBSTONE_GC_INTERVAL: '100ms' },
      nodeEnv: (i): Record<string, string> => (FAKETIME_LIB && i === 0 ? { LD_PRELOAD: FAKETIME_LIB, FAKETIME: '+365d', FAKETIME_DONT_FAKE_MONOTONIC: '1' } : {}),
    },
    async inject(ctx) {
      if (!FAKETIME_LIB) ctx.note('libfaketime not installed: ran without a fast clock');
      const [n0, n1] = ctx.fleet.nodes as [NodeProc, NodeProc, NodeProc];
      for (let round = 0; round < ROUNDS; round++) {
        const key = `campaign/del/${round}`;
        const n2 = ctx.fleet.nodes[2]!;
        await (await n0.put(`fast/beacon`, `round-${round}`)).arrayBuffer(); // a year-ahead stamp, seen by all
        if ((await send(ctx, n1, key, `n1-del-${round}`)) !== 'ok') throw new Error(`put ${key} failed`);
        await waitFor(async () => (await n2.get(key)) !== undefined, `n2 to hold ${key}`, 30_000);
        ctx.fleet.link(0, 2).drop(); // n2 is cut off from its only peer
        if ((await send(ctx, n1, key, undefined)) !== 'ok') throw new Error(`delete ${key} failed`);
        await waitFor(async () => (await n0.get(key)) === undefined, `the delete of ${key} to reach n0`, 30_000);
        const runs = await metric(n0, 'fleetkv_tombstone_gc_runs_total');
        await waitFor(async () => (await metric(n0, 'fleetkv_tombstone_gc_runs_total')) >= runs + 10, 'ten GC passes on n0', 30_000);
        ctx.fleet.link(0, 2).pass();
        await ctx.progress(60);
      }
      const skewed = await metric(ctx.fleet.nodes[1]!, 'fleetkv_clock_skewed_entries_total', 'origin="n0"');
      ctx.note(`${ROUNDS} keys deleted while n2 was cut off; n1 counted ${skewed} entries from n0 as skewed`);
    },
  },
];
