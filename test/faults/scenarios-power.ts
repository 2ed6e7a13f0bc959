import fs from 'node:fs';
import path from 'node:path';
import { fsyncDir, listLogDir } from '../../src/log/files.js';
import type { FsyncPolicy } from '../../src/log/log.js';
import { PEER_BOOK_FILE } from '../../src/replication/peer-book.js';
import { waitFor } from '../helpers/proc.js';
import type { Scenario, ScenarioContext } from './lib/campaign.js';

/**
 * Power cuts of the real build, on the power-cut file system
 * (test/helpers/powercut-fs.py): kill -9 the node(s) and drop everything their
 * disks had not made durable, then restart on the same data dirs. Where the
 * cut must land in a given moment (a snapshot's rename, a segment roll, a
 * catch-up batch) the disk is frozen at that operation first: deterministic,
 * not a lucky timing.
 *
 * Then the deliberately broken builds (FLEETKV_UNSAFE_TEST_BREAK): each runs
 * a scenario that the real build passes, built so that the break is caught
 * on every run.
 */

const POLICIES: FsyncPolicy[] = ['always', 'batch', 'interval', 'never'];
const ALL = [0, 1, 2];

function note(ctx: ScenarioContext, i: number, what: string): void {
  ctx.note(`n${i}: ${what}`);
}

/** Wait for `n` more writes acknowledged by node i. */
async function acked(ctx: ScenarioContext, i: number, n: number, timeoutMs = 60_000): Promise<void> {
  const id = ctx.fleet.name(i);
  const since = ctx.workload.now();
  await waitFor(() => ctx.workload.acknowledgedOn(id, since) >= n, `${n} more writes acknowledged by ${id}`, timeoutMs, 20);
}

/** n0 alone writes, cut off from its peers: what it acknowledges exists only on its own disk. Then its disk stops mid-write, and power goes. */
async function cutIsolatedWriter(ctx: ScenarioContext): Promise<void> {
  ctx.fleet.isolate(0);
  ctx.workload.paused.add('n1');
  ctx.workload.paused.add('n2');
  await acked(ctx, 0, 300);
  await ctx.powerCut([0], { freeze: true });
  note(ctx, 0, 'cut while blocked on its frozen disk, cut off from its peers');
}

/** Three power cuts of n0 in a row, each after n0 acknowledged writes of its own (and before any segment roll). */
async function cutThrice(ctx: ScenarioContext): Promise<void> {
  for (let round = 0; round < 3; round++) {
    await acked(ctx, 0, 40);
    await ctx.powerCut([0]);
  }
  await acked(ctx, 0, 40);
  const st = await ctx.fleet.nodes[0]!.status();
  note(ctx, 0, `cut 3 times, now incarnation ${String(st.incarnation)}`);
}

/** n0 cut off while every node writes; both sides must acknowledge writes the other lacks, so a missed catch-up cannot go unseen. */
async function isolateWithWritesOnBothSides(ctx: ScenarioContext): Promise<void> {
  ctx.fleet.isolate(0);
  const since = ctx.workload.now();
  await ctx.progress(400);
  await waitFor(() => ALL.every((i) => ctx.workload.acknowledgedOn(ctx.fleet.name(i), since) >= 20), 'every node to acknowledge writes while n0 is isolated');
}

function perPolicy(name: string, ci: (p: FsyncPolicy) => boolean, s: Omit<Scenario, 'name' | 'ci' | 'fsync' | 'powerCut'>): Scenario[] {
  return POLICIES.map((p) => ({ ...s, name: `${name} (fsync=${p})`, ci: ci(p), powerCut: true, fsync: p }));
}

const realBuild: Scenario[] = [
  {
    name: 'power cut: one node mid-write, cut off from its peers (disk frozen, then cut)',
    ci: true,
    powerCut: true,
    inject: cutIsolatedWriter,
  },
  ...perPolicy('power cut: one node under load', () => false, {
    async inject(ctx) {
      await ctx.progress(300);
      await ctx.powerCut([1]);
      await ctx.progress(200);
    },
  }),
  ...perPolicy('power cut: every node at once (whole site) under load', (p) => p === 'batch', {
    async inject(ctx) {
      await ctx.progress(300);
      await ctx.powerCut(ALL);
      ctx.note('whole site cut');
      await ctx.progress(200);
    },
  }),
  ...perPolicy('power cut: one node 3 times in a row', () => false, { inject: cutThrice }),
  {
    name: 'power cut during compaction (before the snapshot, before/after its rename, during segment removal)',
    ci: false,
    powerCut: true,
    fleet: { env: { FLEETKV_SEGMENT_BYTES: '32768', FLEETKV_COMPACT_RATIO: '1000' } },
    async inject(ctx) {
      const i = 1;
      const moments: ['at' | 'after', string, RegExp, string][] = [
        ['at', 'create', /\.snap\.tmp$/, 'before the snapshot file'],
        ['at', 'rename', /\.snap\.tmp$/, 'snapshot written and synced, before its rename'],
        ['after', 'rename', /\.snap\.tmp$/, 'snapshot renamed, directory not synced'],
        ['at', 'unlink', /\.seg$/, 'snapshot durable, before the covered segments go'],
        ['after', 'unlink', /\.seg$/, 'a covered segment unlinked, directory not synced'],
      ];
      for (const [when, op, re, what] of moments) {
        await ctx.progress(300);
        ctx.disks[i]!.freezeOn(when, op, re);
        void ctx.fleet.nodes[i]!.fetch('/v1/admin/compact', { method: 'POST' }).catch(() => {});
        await ctx.powerCut([i], { freeze: true });
        note(ctx, i, `cut ${what}`);
      }
      await ctx.progress(200);
      const n = ctx.fleet.nodes[i]!;
      await n.fetch('/v1/admin/compact', { method: 'POST' });
      note(ctx, i, `then compacted: ${JSON.stringify((await n.status()).log.lastCompaction?.entries)} entries`);
    },
  },
  {
    name: 'power cut during a segment roll (before the new segment, before and after its directory fsync)',
    ci: false,
    powerCut: true,
    fleet: { env: { FLEETKV_SEGMENT_BYTES: '16384', FLEETKV_COMPACT_RATIO: '1000' } },
    async inject(ctx) {
      const i = 2;
      const moments: ['at' | 'after', string, RegExp, string][] = [
        ['at', 'create', /\d{20}\.seg$/, 'old segment synced, new one not created'],
        ['after', 'create', /\d{20}\.seg$/, 'new segment created, directory not synced'],
        ['after', 'fsyncdir', /n2$/, 'new segment durable, before its first write'],
      ];
      for (const [when, op, re, what] of moments) {
        await ctx.progress(150);
        ctx.disks[i]!.freezeOn(when, op, re);
        await ctx.powerCut([i], { freeze: true });
        note(ctx, i, `cut ${what}`);
      }
      await ctx.progress(200);
      note(ctx, i, `${listLogDir(ctx.fleet.dirs[i]!).segments.length} segments`);
    },
  },
  {
    name: 'power cut during catch-up (first catch-up batch written, not synced)',
    ci: false,
    powerCut: true,
    async inject(ctx) {
      ctx.fleet.isolate(0);
      ctx.workload.paused.add('n0');
      await ctx.progress(1500);
      const before = (await ctx.fleet.nodes[0]!.status()).vector as Record<string, number>;
      ctx.disks[0]!.freezeOn('after', 'write', /\.seg$/);
      ctx.fleet.heal();
      await ctx.powerCut([0], { freeze: true });
      const after = (await ctx.fleet.nodes[0]!.status()).vector as Record<string, number>;
      note(ctx, 0, `cut in its catch-up (vector before ${JSON.stringify(before)}, after restart ${JSON.stringify(after)})`);
      ctx.workload.paused.delete('n0');
      await ctx.progress(200);
    },
  },
  {
    name: 'power cut during a full resync (first resync batch written, not synced)',
    ci: false,
    powerCut: true,
    async inject(ctx) {
      const i = 0;
      await ctx.progress(600);
      ctx.workload.paused.add('n0');
      await ctx.fleet.nodes[i]!.kill9();
      // No record of its last sync: the node asks its peers for a full resync.
      const dir = ctx.fleet.dirs[i]!;
      fs.rmSync(path.join(dir, PEER_BOOK_FILE), { force: true });
      fsyncDir(dir);
      await ctx.progress(600);
      ctx.disks[i]!.freezeOn('after', 'write', /\.seg$/);
      await ctx.restartAfterCut(i);
      await ctx.powerCut([i], { freeze: true });
      const asked = ctx.fleet.nodes[i]!.logsMatching(/full resync/).length;
      note(ctx, i, `cut during its full resync; restarted${asked ? ', asked for a full resync again' : ''}`);
      ctx.workload.paused.delete('n0');
      await ctx.progress(200);
    },
  },
];

/** A broken build running a real-build scenario; `nodes` get the break (default: all). */
function mutant(name: string, brk: string, base: Pick<Scenario, 'inject' | 'powerCut' | 'fsync' | 'fleet'>, nodes?: number[]): Scenario {
  return {
    ...base,
    name: `BROKEN BUILD: ${name}`,
    ci: true,
    broken: true,
    fleet: {
      ...base.fleet,
      nodeEnv: (i): Record<string, string> => (!nodes || nodes.includes(i) ? { FLEETKV_UNSAFE_TEST_BREAK: brk } : {}),
    },
  };
}

const mutants: Scenario[] = [
  // Nothing n0 acknowledges is ever synced; cut off, no peer holds a copy.
  mutant('fsync skipped, then a power cut', 'skip-fsync', { powerCut: true, inject: cutIsolatedWriter }, [0]),
  // The batch the frozen disk blocks holds only writes already acknowledged.
  mutant('acknowledged before the write is staged, then a power cut', 'ack-before-staged', { powerCut: true, inject: cutIsolatedWriter }, [0]),
  // The peer's vector is merged when its catch-up begins: what it then sends is taken as held.
  mutant('vector merged before SYNC_DONE, one node isolated', 'early-vector-merge', { inject: isolateWithWritesOnBothSides }),
  mutant('anti-entropy disabled, one node isolated', 'no-anti-entropy', { inject: isolateWithWritesOnBothSides }),
];

/**
 * Retired as a broken build: node.json's new incarnation renamed but not made durable (the next cut
 * brings back the old one) used to make the next run reuse (origin, inc, seq). Since incarnations
 * come from the clock as well (ADR 0002), the next run gets a fresh one anyway, so the checker
 * finds nothing to catch (3 cuts: 0 lost, 0 reused). Kept out of CI as a check that it stays so;
 * one CI run of it saw n0 stop acknowledging for 60 s after a cut (not reproduced; docs/reliability.md).
 */
const retired: Scenario[] = [
  {
    name: 'node.json rename not durable (broken directory fsync), 3 power cuts: no reuse',
    ci: false,
    powerCut: true,
    fsync: 'never',
    inject: cutThrice,
    fleet: { nodeEnv: (i): Record<string, string> => (i === 0 ? { FLEETKV_UNSAFE_TEST_BREAK: 'skip-dir-fsync' } : {}) },
  },
];

export const powerScenarios: Scenario[] = [...realBuild, ...mutants, ...retired];
