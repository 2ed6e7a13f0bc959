/**
 * Core benchmark (issue 2): durable puts/s through the library and over HTTP
 * for each fsync policy and 1/16/256 writers, beside the machine's raw
 * append + fdatasync limit grouped the same way; recovery time of a
 * 1M-entry log and of its snapshot; memory per key.
 *
 * Every write is a 200-byte log record, in the raw loop too. Cold-start and
 * memory figures come from child processes (bench/core/child.ts).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeProc } from '../test/helpers/proc.js';
import type { BenchRow, BenchSection } from './run.js';
import { BENCH_NODE_ID, BENCH_VALUE, RECORD_BYTES, benchKey, closedLoop, httpPut, keepAliveAgent, rawAppendFsync, type LoadFigures } from './core/load.js';
import { FSYNC_POLICIES, benchNode } from './core/node.js';

const WRITERS = [1, 16, 256];
const RUN_MS = Number(process.env.BENCH_RUN_MS ?? 1000);
const RECOVERY_ENTRIES = Number(process.env.BENCH_RECOVERY_ENTRIES ?? 1_000_000);
const MEMORY_KEYS = 100_000;
const GOAL_BATCH_VS_RAW = 0.5;
const GOAL_RECOVERY_MS = 3000;
const GOAL_BYTES_PER_KEY = 250;

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

export async function sections(): Promise<BenchSection[]> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetkv-bench-core-'));
  try {
    const load0 = os.loadavg()[0]!;
    // The raw limit drifts with other work on the machine: half of it is
    // measured before the library runs and half after, and pooled.
    const rawBefore = WRITERS.map((g) => rawAppendFsync(tmp, g, RUN_MS / 2));
    const lib = await libraryPuts(tmp);
    const rawAfter = WRITERS.map((g) => rawAppendFsync(tmp, g, RUN_MS / 2));
    const raw = new Map(WRITERS.map((g, i) => [g, pooled(rawBefore[i]!, rawAfter[i]!)]));
    const web = await httpPuts(tmp);
    const throughput = throughputSection(raw, { before: rawBefore[WRITERS.indexOf(256)]!.perSec, after: rawAfter[WRITERS.indexOf(256)]!.perSec }, lib, web);
    const recovery = await recoverySection(tmp);
    const memory = await memorySection(tmp);
    // Other work on the machine slows every figure (most of all HTTP: client and server share the cores).
    const load = `load average ${load0.toFixed(1)} at the start, ${os.loadavg()[0]!.toFixed(1)} at the end, on ${os.cpus().length} cores`;
    throughput.notes!.push(load);
    return [throughput, recovery, memory];
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

type Runs = Map<string, LoadFigures & { perFsync?: number }>;
const runKey = (fsync: string, writers: number): string => `${fsync}/${writers}`;

async function libraryPuts(tmp: string): Promise<Runs> {
  const out: Runs = new Map();
  for (const fsync of FSYNC_POLICIES) {
    const node = benchNode(path.join(tmp, `lib-${fsync}`), fsync);
    await node.start();
    try {
      for (const writers of WRITERS) {
        const seq0 = node.store.vector.get(node.selfStream);
        const syncs0 = await counterValue(node.metrics.fsyncs);
        const f = await closedLoop(writers, RUN_MS, (w, i) => node.put(benchKey(w, i), BENCH_VALUE));
        const puts = node.store.vector.get(node.selfStream) - seq0;
        const syncs = (await counterValue(node.metrics.fsyncs)) - syncs0;
        // Average group size over warm-up and run (interval/never do not fsync per write).
        out.set(runKey(fsync, writers), { ...f, ...(syncs > 0 ? { perFsync: puts / syncs } : {}) });
      }
    } finally {
      await node.stop();
    }
  }
  return out;
}

async function counterValue(c: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await c.get()).values[0]?.value ?? 0;
}

async function httpPuts(tmp: string): Promise<Runs> {
  const out: Runs = new Map();
  for (const fsync of FSYNC_POLICIES) {
    const proc = new NodeProc({
      nodeId: BENCH_NODE_ID,
      dataDir: path.join(tmp, `http-${fsync}`),
      env: { FLEETKV_FSYNC: fsync, FLEETKV_MQTT_ENABLED: 'false' },
    });
    await proc.start();
    try {
      const port = proc.ports.http!;
      for (const writers of WRITERS) {
        const agent = keepAliveAgent(writers);
        try {
          const before = await writesAndFsyncs(proc);
          const f = await closedLoop(writers, RUN_MS, (w, i) => httpPut(agent, port, benchKey(w, i), BENCH_VALUE));
          const after = await writesAndFsyncs(proc);
          const syncs = after.fsyncs - before.fsyncs;
          out.set(runKey(fsync, writers), { ...f, ...(syncs > 0 ? { perFsync: (after.writes - before.writes) / syncs } : {}) });
        } finally {
          agent.destroy();
        }
      }
    } finally {
      await proc.stop();
    }
  }
  return out;
}

/** The daemon's counters of local puts and fsyncs, from /metrics. */
async function writesAndFsyncs(proc: NodeProc): Promise<{ writes: number; fsyncs: number }> {
  const text = await (await proc.fetch('/metrics')).text();
  const metric = (re: RegExp): number => Number(re.exec(text)?.[1] ?? 0);
  return { writes: metric(/^fleetkv_writes_total\{[^}]*op="put"[^}]*\} (\S+)$/m), fsyncs: metric(/^fleetkv_fsyncs_total (\S+)$/m) };
}

/** Two runs of the same loop as one: ops over time; the mean p50 and the worse p99. */
function pooled(a: LoadFigures, b: LoadFigures): LoadFigures {
  const seconds = a.seconds + b.seconds;
  return { ops: a.ops + b.ops, seconds, perSec: (a.ops + b.ops) / seconds, p50Ms: (a.p50Ms + b.p50Ms) / 2, p99Ms: Math.max(a.p99Ms, b.p99Ms) };
}

function throughputSection(raw: Map<number, LoadFigures>, drift: { before: number; after: number }, lib: Runs, web: Runs): BenchSection {
  const rows: BenchRow[] = [];
  for (const g of WRITERS) {
    const r = raw.get(g)!;
    rows.push({ path: 'raw append+fdatasync', fsync: '-', writers: `${g}/sync`, 'puts/s': int(r.perSec), 'p50 ms': ms(r.p50Ms), 'p99 ms': ms(r.p99Ms), 'puts/fsync': g, 'vs raw': '1.00' });
  }
  for (const [name, runs] of [
    ['library', lib],
    ['http', web],
  ] as const) {
    for (const fsync of FSYNC_POLICIES) {
      for (const writers of WRITERS) {
        const f = runs.get(runKey(fsync, writers))!;
        rows.push({
          path: name,
          fsync,
          writers,
          'puts/s': int(f.perSec),
          'p50 ms': ms(f.p50Ms),
          'p99 ms': ms(f.p99Ms),
          'puts/fsync': f.perFsync === undefined ? '' : f.perFsync.toFixed(1),
          'vs raw': (f.perSec / raw.get(writers)!.perSec).toFixed(2),
        });
      }
    }
  }
  const ratio = lib.get(runKey('batch', 256))!.perSec / raw.get(256)!.perSec;
  return {
    title: `core: durable puts/s (${RECORD_BYTES}-byte records, ${RUN_MS} ms per run; "vs raw" = raw loop with 1 record per fsync for 1 writer, 16 for 16, 256 for 256; raw measured half before, half after the library runs)`,
    rows,
    notes: [
      goal(`library batch, 256 writers / raw 256 per fdatasync = ${ratio.toFixed(2)}`, ratio >= GOAL_BATCH_VS_RAW, `>= ${GOAL_BATCH_VS_RAW}`),
      `raw 256 per fdatasync: ${int(drift.before)} records/s before the library runs, ${int(drift.after)} after (pooled in the table)`,
    ],
  };
}

async function recoverySection(tmp: string): Promise<BenchSection> {
  const dir = path.join(tmp, 'recovery');
  const built = await child('build', dir, RECOVERY_ENTRIES);
  const fromLog = await child('recover', dir);
  const compacted = await child('compact', dir);
  const fromSnap = await child('recover', dir);
  const mapRef = await child('mapref', dir, RECOVERY_ENTRIES);
  const rows: BenchRow[] = [
    {
      data: `log, ${RECOVERY_ENTRIES} entries (distinct keys)`,
      'MB on disk': mb(built.logBytes),
      records: fromLog.records as number,
      'start ms': int(fromLog.ms),
      'cpu ms': int(fromLog.cpuMs),
      'replay ms': int(fromLog.recoveryMs),
      'RSS after MB': mb(fromLog.rss),
    },
    {
      data: 'snapshot of that log',
      'MB on disk': mb(dirBytes(dir)),
      records: fromSnap.records as number,
      'start ms': int(fromSnap.ms),
      'cpu ms': int(fromSnap.cpuMs),
      'replay ms': int(fromSnap.recoveryMs),
      'RSS after MB': mb(fromSnap.rss),
    },
    { data: `reference: a plain Map of ${RECOVERY_ENTRIES} string keys to small objects`, 'MB on disk': '', records: mapRef.records as number, 'start ms': int(mapRef.ms), 'cpu ms': int(mapRef.cpuMs), 'replay ms': '', 'RSS after MB': '' },
  ];
  const worst = Math.max(fromLog.ms as number, fromSnap.ms as number);
  return {
    title: `core: recovery (FleetNode.start in a fresh process; log built with the library in ${int(built.ms)} ms, snapshot written in ${int(compacted.ms)} ms)`,
    rows,
    notes: [goal(`recovery of ${RECOVERY_ENTRIES} entries: log ${int(fromLog.ms)} ms, snapshot ${int(fromSnap.ms)} ms`, worst < GOAL_RECOVERY_MS, `< ${GOAL_RECOVERY_MS} ms`)],
  };
}

async function memorySection(tmp: string): Promise<BenchSection> {
  const m = (await child('memory', path.join(tmp, 'memory'), MEMORY_KEYS)) as unknown as MemoryFigures;
  const value = m.valueBytes;
  const per = (bytes: number): number => int(bytes / MEMORY_KEYS - value);
  const mbPer100k = (bytes: number): string => mb((bytes / MEMORY_KEYS) * 100_000);
  const rows: BenchRow[] = [];
  for (const [step, d] of [
    [`first ${MEMORY_KEYS} keys`, m.first],
    [`next ${MEMORY_KEYS} keys`, m.second],
  ] as const) {
    rows.push(
      { keys: step, measure: 'RSS', 'B/key beyond value': per(d.rss), 'MB per 100k keys': mbPer100k(d.rss) },
      { keys: step, measure: 'heap used + external', 'B/key beyond value': per(d.heapUsed + d.external), 'MB per 100k keys': mbPer100k(d.heapUsed + d.external) },
      { keys: step, measure: '  heap used', 'B/key beyond value': '', 'MB per 100k keys': mbPer100k(d.heapUsed) },
      { keys: step, measure: '  external (entry bytes)', 'B/key beyond value': '', 'MB per 100k keys': mbPer100k(d.external) },
    );
  }
  const rss = per(m.first.rss);
  const held = per(m.first.heapUsed + m.first.external);
  return {
    title: `core: memory per key (${value}-byte values, keys "key/NNNNNNN", after GC, fresh process; the next ${MEMORY_KEYS} show the cost per key without the heap's one-off growth)`,
    rows,
    notes: [
      goal(`first ${MEMORY_KEYS} keys: ${held} B/key beyond the value by heap + external`, held < GOAL_BYTES_PER_KEY, `< ${GOAL_BYTES_PER_KEY} B/key`),
      goal(`first ${MEMORY_KEYS} keys: ${rss} B/key beyond the value by RSS`, rss < GOAL_BYTES_PER_KEY, `< ${GOAL_BYTES_PER_KEY} B/key`),
      goal(`next ${MEMORY_KEYS} keys: ${per(m.second.rss)} B/key beyond the value by RSS`, per(m.second.rss) < GOAL_BYTES_PER_KEY, `< ${GOAL_BYTES_PER_KEY} B/key`),
    ],
  };
}

interface MemoryDelta {
  rss: number;
  heapUsed: number;
  external: number;
}
interface MemoryFigures {
  keys: number;
  valueBytes: number;
  first: MemoryDelta;
  second: MemoryDelta;
}

/** Run bench/core/child.ts in a fresh process; its last stdout line is the JSON result. */
function child(mode: string, dir: string, n?: number): Promise<Record<string, number>> {
  const args = ['--expose-gc', '--import', 'tsx', path.join(here, 'core/child.ts'), mode, dir, ...(n === undefined ? [] : [String(n)])];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: root, maxBuffer: 16 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`child ${mode} failed: ${err.message}\n${stderr}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, number>);
      } catch {
        reject(new Error(`child ${mode} printed no result: ${stdout}\n${stderr}`));
      }
    });
  });
}

function dirBytes(dir: string): number {
  return fs.readdirSync(dir).reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
}

function goal(what: string, met: boolean, target: string): string {
  return `${what} (goal ${target}): ${met ? 'met' : 'MISSED'}`;
}
const int = (x: unknown): number => Math.round(Number(x));
const ms = (x: number): string => x.toFixed(2);
const mb = (x: unknown): string => (Number(x) / 1e6).toFixed(1);
