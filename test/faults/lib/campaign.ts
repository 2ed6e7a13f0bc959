import fs from 'node:fs';
import path from 'node:path';
import { ROOT, waitFor } from '../../helpers/proc.js';
import { check, type CheckReport } from '../../helpers/checker.js';
import { Fleet, type FleetOptions } from './fleet.js';
import { Workload, readState, type WorkloadOptions } from './workload.js';

export interface ScenarioContext {
  fleet: Fleet;
  workload: Workload;
  /** Wait until `n` more writes were acknowledged (the fault's duration, measured in work done). */
  progress(n: number, timeoutMs?: number): Promise<void>;
  note(text: string): void;
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
  /** Set up what the fleet needs before it starts (a private filesystem, …); returns fleet options and a cleanup. */
  prepare?(): Promise<{ fleet?: Partial<FleetOptions>; cleanup(): void }>;
  /** Inject the fault while the workload runs; return with the fault still on or healed. */
  inject(ctx: ScenarioContext): Promise<void>;
  /** Undo what inject left (called after the workload stops). Default: heal every link. */
  heal?(ctx: ScenarioContext): Promise<void>;
}

export interface ScenarioResult extends CheckReport {
  scenario: string;
  healToConvergedMs: number;
  notes: string[];
}

export async function runScenario(s: Scenario): Promise<ScenarioResult> {
  const prepared = await s.prepare?.();
  const fleet = await Fleet.start({ size: 3, ...s.fleet, ...prepared?.fleet }).catch((err: unknown) => {
    prepared?.cleanup();
    throw err;
  });
  const notes: string[] = [];
  const workload = new Workload(() => fleet.nodes, s.workload);
  const ctx: ScenarioContext = {
    fleet,
    workload,
    note: (t) => notes.push(t),
    progress: async (n, timeoutMs = 60_000) => {
      const target = workload.acknowledged + n;
      await waitFor(() => workload.acknowledged >= target, `${n} more acknowledged writes`, timeoutMs, 25);
    },
  };
  try {
    workload.start();
    await ctx.progress(100);
    await s.inject(ctx);
    await workload.stop();
    const healedAt = performance.now();
    if (s.heal) await s.heal(ctx);
    else fleet.heal();
    const finals = await waitConverged(fleet, s.broken ? 10_000 : 60_000);
    const healToConvergedMs = Math.round(performance.now() - healedAt);
    const report = check(workload.ops, finals);
    return { scenario: s.name, ...report, healToConvergedMs, notes };
  } finally {
    await workload.stop();
    await fleet.stop();
    prepared?.cleanup();
  }
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
  const head = '| scenario | attempted | acknowledged | failed/unknown | lost | phantom | replicas equal | heal → converged | notes |';
  const rule = '|---|---:|---:|---:|---:|---:|---|---:|---|';
  const rows = results.map(
    (r) =>
      `| ${r.scenario} | ${r.attempted} | ${r.acknowledged} | ${r.failed}/${r.unknown} | ${r.lost} | ${r.phantom} | ${r.replicasEqual ? 'yes' : 'NO'} | ${r.healToConvergedMs} ms | ${r.notes.join('; ')} |`,
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
