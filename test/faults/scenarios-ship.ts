import { sseEvents } from '../../src/cli/sse.js';
import type { NodeProc } from '../helpers/proc.js';
import type { Scenario, ScenarioContext } from './lib/campaign.js';

/**
 * Ship while you sync (docs/adr/0104): an origin sends a write to its peers
 * while its fsync runs, and a receiver shows an entry (watch, MQTT) before its
 * own fsync. Each fault lands at the moment that matters, found by a watch:
 * a receiver killed right after its watch showed an entry (its durable vector
 * may not cover it yet), an origin killed as soon as a peer's watch shows its
 * write (before the origin acknowledged it, most of the time). The checker
 * must find 0 acknowledged writes lost, 0 phantoms, replicas equal.
 */

/** Resolve with the first watch event on `node` under campaign/ whose value `match`es (the watch stays open until then). */
async function firstSeen(node: NodeProc, match: (value: string) => boolean, timeoutMs = 30_000): Promise<string> {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  try {
    const res = await node.fetch('/v1/watch?prefix=campaign/', { signal: ctrl.signal });
    for await (const ev of sseEvents(res.body as unknown as AsyncIterable<Uint8Array>)) {
      if (ev.event !== undefined || ev.data === '') continue;
      const { value } = JSON.parse(ev.data) as { value?: string };
      if (typeof value === 'string' && match(value)) return value;
    }
    throw new Error(`watch on ${node.opts.nodeId} ended before a matching entry`);
  } catch (err) {
    if (ctrl.signal.aborted) throw new Error(`no matching entry on ${node.opts.nodeId}'s watch within ${timeoutMs} ms`);
    throw err;
  } finally {
    clearTimeout(timer);
    ctrl.abort();
  }
}

const fromPeer = (receiver: string) => (v: string) => !v.startsWith(`${receiver}-`);

/** kill -9 (or a power cut of) node `i` as soon as its watch shows an entry written by another node; `rounds` times. */
async function killReceiverOnArrival(ctx: ScenarioContext, i: number, rounds: number, power: boolean): Promise<void> {
  const id = ctx.fleet.name(i);
  for (let r = 0; r < rounds; r++) {
    await ctx.progress(100);
    const seen = await firstSeen(ctx.fleet.nodes[i]!, fromPeer(id));
    if (power) await ctx.powerCut([i]);
    else {
      await ctx.fleet.nodes[i]!.kill9();
      await ctx.fleet.restart(i);
    }
    ctx.note(`${id}: ${power ? 'power cut' : 'kill -9'} right after its watch showed ${seen}`);
  }
  await ctx.progress(200);
}

/** kill -9 (or a power cut of) origin `o` as soon as node `w`'s watch shows one of o's writes (shipped, most likely not yet acknowledged). */
async function killOriginOnShip(ctx: ScenarioContext, o: number, w: number, rounds: number, power: boolean): Promise<void> {
  const id = ctx.fleet.name(o);
  for (let r = 0; r < rounds; r++) {
    await ctx.progress(100);
    // A write of o's whose writer has no answer yet (the workload records a write when answered);
    // if that window is never caught (a fast fsync), any write of o's.
    const mine = (v: string): boolean => v.startsWith(`${id}-`);
    const unanswered = (v: string): boolean => mine(v) && !ctx.workload.ops.some((op) => op.value === v);
    const seen = await firstSeen(ctx.fleet.nodes[w]!, unanswered, 10_000).catch(() => firstSeen(ctx.fleet.nodes[w]!, mine));
    const acked = ctx.workload.ops.some((op) => op.value === seen && op.outcome === 'ok');
    if (power) await ctx.powerCut([o]);
    else {
      await ctx.fleet.nodes[o]!.kill9();
      await ctx.fleet.restart(o);
    }
    ctx.note(`${id}: ${power ? 'power cut' : 'kill -9'} right after ${ctx.fleet.name(w)}'s watch showed ${seen} (${acked ? 'already' : 'not yet'} acknowledged)`);
  }
  await ctx.progress(200);
}

export const scenarios: Scenario[] = [
  {
    name: 'ship while sync: kill -9 a receiver right after its watch showed a peer entry (2 times)',
    ci: true,
    inject: (ctx) => killReceiverOnArrival(ctx, 1, 2, false),
  },
  {
    name: 'ship while sync: kill -9 the origin right after a peer watch showed its write (2 times)',
    ci: true,
    inject: (ctx) => killOriginOnShip(ctx, 0, 1, 2, false),
  },
  {
    name: 'ship while sync: power cut of a receiver right after its watch showed a peer entry (3 times)',
    ci: false,
    powerCut: true,
    inject: (ctx) => killReceiverOnArrival(ctx, 1, 3, true),
  },
  {
    name: 'ship while sync: power cut of the origin right after a peer watch showed its write (3 times)',
    ci: false,
    powerCut: true,
    inject: (ctx) => killOriginOnShip(ctx, 0, 1, 3, true),
  },
];
