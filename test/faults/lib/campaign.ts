import fs from 'node:fs';
import path from 'node:path';
import { ROOT, waitFor } from '../../helpers/proc.js';
import { check, type CheckReport, type WriteOp } from '../../helpers/checker.js';
import { PowerCutFs } from '../../helpers/powercut.js';
import type { FsyncPolicy } from '../../../src/log/log.js';
import { Fleet, type FleetOptions } from './fleet.js';
import { Workload, readState, type WorkloadOptions } from './workload.js';

export interface ScenarioContext {
  fleet: Fleet;
  workload: Workload;
  /** Wait until `n` more writes were acknowledged (the fault's duration, measured in work done). */
  progress(n: number, timeoutMs?: number): Promise<void>;
  note(text: string): void;
  /** The power-cut file system under each node's data dir (scenarios with `powerCut`). */
  disks: PowerCutFs[];
  /**
   * Power cut of nodes `which` at once: kill -9 them, then drop what their disks
   * had not made durable; then (unless `restart: false`) start them again on
   * the same data dirs. `freeze` first stops each disk and waits until the node
   * is blocked on it, so the cut lands in the middle of a disk access.
   */
  powerCut(which: number[], opts?: { freeze?: boolean; restart?: boolean }): Promise<void>;
  /** Start node i again after `powerCut(…, { restart: false })`. */
  restartAfterCut(i: number): Promise<void>;
}

/** One power cut, for the loss-window check under interval/never. */
export interface CutRecord {
  node: string;
  /** Workload time of the cut, and of the node's start before it. */
  at: number;
  startedAt: number;
}

export interface Scenario {
  name: string;
  /** In the CI subset (`npm run test:faults`); the rest run with FLEETKV_CAMPAIGN=full. */
  ci: boolean;
  fleet?: Partial<FleetOptions>;
  workload?: WorkloadOptions;
  /** Clock-skew scenarios: overrides are measured, not required to be 0. */
  skewed?: boolean;
  /** A deliberately broken build: the checker must report a loss (proves it can fail). */
  broken?: boolean;
  /** Each node's data dir on a power-cut file system of its own (skipped where FUSE is absent). */
  powerCut?: boolean;
  /** The nodes' fsync policy (default batch); decides what a power cut may lose. */
  fsync?: FsyncPolicy;
  /** Set up what the fleet needs before it starts (a private filesystem, …); returns fleet options and a cleanup. */
  prepare?(): Promise<{ fleet?: Partial<FleetOptions>; cleanup(): void }>;
  /** Inject the fault while the workload runs; return with the fault still on or healed. */
  inject(ctx: ScenarioContext): Promise<void>;
  /** Undo what inject left (called after the workload stops). Default: heal every link. */
  heal?(ctx: ScenarioContext): Promise<void>;
}

export interface ScenarioResult extends Omit<CheckReport, 'lostWrites'> {
  scenario: string;
  /** Lost writes a power cut may lose under the policy (interval/never: acknowledged in the window before a cut on their node). */
  lostInWindow: number;
  healToConvergedMs: number;
  notes: string[];
}

const SIZE = 3;
/** fsync=interval's period in the power-cut scenarios, and the slack allowed on top of it (timers under load). */
export const POWERCUT_FSYNC_INTERVAL_MS = 100;
const INTERVAL_SLACK_MS = 500;

async function mountDisks(s: Scenario): Promise<PowerCutFs[]> {
  const disks: PowerCutFs[] = [];
  if (!s.powerCut) return disks;
  try {
    for (let i = 0; i < SIZE; i++) disks.push(await new PowerCutFs().start());
  } catch (err) {
    await Promise.all(disks.map((d) => d.stop()));
    throw err;
  }
  return disks;
}

export async function runScenario(s: Scenario): Promise<ScenarioResult> {
  const prepared = await s.prepare?.();
  let disks: PowerCutFs[] = [];
  const cleanup = async (): Promise<void> => {
    prepared?.cleanup();
    await Promise.all(disks.map((d) => d.stop()));
  };
  let fleet: Fleet;
  try {
    disks = await mountDisks(s);
    const env = { ...s.fleet?.env, ...(s.fsync ? { FLEETKV_FSYNC: s.fsync, FLEETKV_FSYNC_INTERVAL: `${POWERCUT_FSYNC_INTERVAL_MS}ms` } : {}) };
    fleet = await Fleet.start({
      size: SIZE,
      ...s.fleet,
      env,
      ...(s.powerCut ? { dataDir: (i: number) => disks[i]!.mkdir(`n${i}`) } : {}),
      ...prepared?.fleet,
    });
  } catch (err) {
    await cleanup();
    throw err;
  }
  const notes: string[] = [];
  const workload = new Workload(() => fleet.nodes, s.workload);
  const cuts: CutRecord[] = [];
  const timings: string[] = [];
  const startedAt = new Map<string, number>();
  const restartAfterCut = async (i: number): Promise<void> => {
    await fleet.restart(i);
    startedAt.set(fleet.name(i), workload.now());
  };
  const ctx: ScenarioContext = {
    fleet,
    workload,
    disks,
    note: (t) => notes.push(t),
    progress: async (n, timeoutMs = 60_000) => {
      const target = workload.acknowledged + n;
      await waitFor(() => workload.acknowledged >= target, `${n} more acknowledged writes`, timeoutMs, 25);
    },
    powerCut: async (which, opts = {}) => {
      if (!s.powerCut) throw new Error(`scenario "${s.name}" has no power-cut disks`);
      // The disk stops first, so nothing the dying process still has in flight lands after
      // the cut: a request it already sent fails with EIO at the cut (and only then can it die).
      for (const i of which) disks[i]!.freeze();
      if (opts.freeze) await Promise.all(which.map((i) => waitFor(() => disks[i]!.status().blocked > 0, `n${i} to block on its frozen disk`, 30_000, 5)));
      const at = workload.now();
      workload.phase++;
      for (const i of which) fleet.nodes[i]!.child.kill('SIGKILL');
      for (const i of which) {
        disks[i]!.cut();
        cuts.push({ node: fleet.name(i), at, startedAt: startedAt.get(fleet.name(i)) ?? 0 });
      }
      await Promise.all(which.map((i) => fleet.nodes[i]!.waitExit()));
      const dead = workload.now();
      if (opts.restart !== false) await Promise.all(which.map((i) => restartAfterCut(i)));
      timings.push(`${which.map((i) => fleet.name(i)).join('+')} exit ${Math.round(dead - at)} ms, restart ${Math.round(workload.now() - dead)} ms`);
    },
    restartAfterCut,
  };
  try {
    workload.start();
    await ctx.progress(100);
    await s.inject(ctx);
    await workload.stop();
    const healedAt = performance.now();
    if (s.heal) await s.heal(ctx);
    else fleet.heal();
    const finals = await waitConverged(fleet, s.broken ? 5_000 : 60_000);
    if (process.env.FLEETKV_CAMPAIGN_TIMINGS) notes.push(...timings);
    const healToConvergedMs = Math.round(performance.now() - healedAt);
    const { lostWrites, ...report } = check(workload.ops, finals);
    const lostInWindow = lostWrites.filter((w) => mayLose(s.fsync ?? 'batch', w, cuts)).length;
    for (const d of disks) if (d.log) notes.push(`powercut-fs: ${d.log.trim().slice(0, 300)}`);
    return { scenario: s.name, ...report, lostInWindow, healToConvergedMs, notes };
  } finally {
    for (const d of disks) d.thawIfFrozen(); // a scenario that failed between freeze and cut
    await workload.stop();
    await fleet.stop();
    await cleanup();
  }
}

/**
 * May a power cut lose this acknowledged write under the policy (docs/guarantees.md)?
 * always/batch: never. interval: acknowledged on a node within one fsync interval
 * (plus slack) before a cut of it. never: acknowledged on a node after its last
 * start before a cut of it (the power-cut disk writes nothing back by itself).
 */
export function mayLose(policy: FsyncPolicy, w: WriteOp, cuts: CutRecord[]): boolean {
  if (policy === 'always' || policy === 'batch') return false;
  return cuts.some((c) => {
    if (c.node !== w.node || w.end > c.at + INTERVAL_SLACK_MS) return false;
    return policy === 'interval' ? w.end >= c.at - POWERCUT_FSYNC_INTERVAL_MS - INTERVAL_SLACK_MS : w.end >= c.startedAt;
  });
}

/** Poll every node until all hold the same campaign state; returns each node's state. */
export async function waitConverged(fleet: Fleet, timeoutMs = 60_000): Promise<Record<string, Map<string, string>>> {
  let finals: Record<string, Map<string, string>> = {};
  await waitFor(
    async () => {
      const states = await Promise.all(fleet.nodes.map((n) => readState(n)));
      finals = Object.fromEntries(states.map((st, i) => [fleet.name(i), st]));
      const ref = JSON.stringify([...states[0]!]);
      return states.every((st) => JSON.stringify([...st]) === ref);
    },
    'the fleet to converge',
    timeoutMs,
    50,
  ).catch(() => {
    // Not converged: return the states as they are; the checker reports replicas unequal.
  });
  return finals;
}

export function reportTable(results: ScenarioResult[]): string {
  const head = '| scenario | attempted | acknowledged | failed/unknown | lost | phantom | reused | replicas equal | heal → converged | notes |';
  const rule = '|---|---:|---:|---:|---:|---:|---:|---|---:|---|';
  const rows = results.map(
    (r) =>
      `| ${r.scenario} | ${r.attempted} | ${r.acknowledged} | ${r.failed}/${r.unknown} | ${r.lost}${r.lostInWindow ? ` (${r.lostInWindow} in window)` : ''} | ${r.phantom} | ${r.reused} | ${r.replicasEqual ? 'yes' : 'NO'} | ${r.healToConvergedMs} ms | ${r.notes.join('; ')} |`,
  );
  return [head, rule, ...rows].join('\n');
}

export function writeReport(results: ScenarioResult[], label: string): string {
  const dir = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `campaign-${label}-${new Date().toISOString().replace(/[:.]/g, '-')}.md`);
  fs.writeFileSync(file, `# fleetkv fault campaign (${label}) — ${new Date().toISOString()}\n\n${reportTable(results)}\n`);
  fs.writeFileSync(file.replace(/\.md$/, '.json'), `${JSON.stringify(results, null, 2)}\n`);
  return file;
}
