import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { FRAME, jsonFrame } from '../../src/replication/frames.js';
import { tempDir, waitFor } from '../helpers/proc.js';
import { WireClient } from '../replication/wire-client.js';
import type { Scenario } from './lib/campaign.js';

/**
 * Campaign scenarios for identity mistakes (issue 9 items 4 and 6; docs/adr/0002).
 *
 * "wiped node": n2's data dir is removed while it is stopped and it restarts
 * with the same id while the workload goes on; every write it acknowledges
 * afterwards must reach n0 and n1 (the old rule restarted it at incarnation 1
 * seq 1, and its peers dropped those writes as duplicates for good).
 * "restored node": n2's data dir is copied (cp -a) while stopped, n2 runs on,
 * then the copy is put back: its writes after the restore must not be lost.
 * "forged vector": a peer speaking the protocol sends n0 a SYNC_DONE whose
 * vector claims 2^53-1 of every stream; replication must go on.
 */
async function stopped(ctx: Parameters<Scenario['inject']>[0], i: number): Promise<void> {
  await ctx.fleet.nodes[i]!.stop();
}

export const scenarios: Scenario[] = [
  {
    name: 'wiped node (n2 restarted with the same id on an empty data dir)',
    ci: true,
    async inject(ctx) {
      await ctx.progress(40);
      await stopped(ctx, 2);
      fs.rmSync(ctx.fleet.dirs[2]!, { recursive: true, force: true });
      await ctx.fleet.restart(2);
      await ctx.progress(120);
      ctx.note(`n2 restarted at incarnation ${(await ctx.fleet.nodes[2]!.status()).incarnation}`);
    },
  },
  {
    name: 'restored node (n2 data dir put back from an older cp -a copy)',
    ci: true,
    async inject(ctx) {
      await ctx.progress(30);
      await stopped(ctx, 2);
      const copy = tempDir('fleetkv-restore-copy-');
      execFileSync('cp', ['-a', `${ctx.fleet.dirs[2]!}/.`, copy]);
      await ctx.fleet.restart(2);
      await ctx.progress(60);
      await stopped(ctx, 2);
      fs.rmSync(ctx.fleet.dirs[2]!, { recursive: true, force: true });
      execFileSync('cp', ['-a', copy, ctx.fleet.dirs[2]!]);
      await ctx.fleet.restart(2);
      await ctx.progress(120);
      ctx.note(`n2 restored from a copy, now at incarnation ${(await ctx.fleet.nodes[2]!.status()).incarnation}`);
    },
  },
  {
    name: 'forged vector (a peer sends n0 SYNC_DONE claiming 2^53-1 of every stream)',
    ci: true,
    async inject(ctx) {
      await ctx.progress(30);
      const n0 = ctx.fleet.nodes[0]!;
      const x = new WireClient(n0.ports.peer!);
      try {
        await x.handshake('', 'default', 'forger');
        await x.frame(FRAME.SYNC_DONE);
        const vector: Record<string, number> = { 'ghost:7': 10 ** 12 };
        for (const n of ctx.fleet.nodes) vector[`${n.opts.nodeId}:${(await n.status()).incarnation}`] = Number.MAX_SAFE_INTEGER;
        x.send(jsonFrame(FRAME.SYNC_DONE, { vector }));
        await waitFor(() => x.frames.some((f) => f.type === FRAME.ACK), 'n0 to answer the forged SYNC_DONE');
        await ctx.progress(120);
        const max = Math.max(...Object.values((await n0.status()).vector as Record<string, number>));
        ctx.note(`highest seq in n0's vector after the forged one: ${max}`);
      } finally {
        x.end();
      }
    },
  },
];
