/**
 * Issue 10 references (P1, P2, P7, C1), each measured in the same run as
 * fleetkv, alternating where the figure drifts with the machine's load:
 *
 *   P1  HTTP PUT, 50 keep-alive connections, fsync=batch (wrk) vs Redis AOF
 *       appendfsync always (redis-benchmark SET, 50 connections) and a bare
 *       Node HTTP server with the same group fsync (bench/refs/bare-server.ts)
 *   P2  library put with 256 writers (batch) vs raw grouped fdatasync of 256
 *       records; 1 writer p50 vs one raw fdatasync
 *   P7  restart with 1M entries: fleetkv from its log and from its snapshot
 *       vs Redis reloading an AOF of the same 1M SETs and its RDB
 *   C1  sender CPU for a catch-up of 10 entries on a 1M-key store
 *
 * Installs redis-server and wrk from Debian when missing. Servers listen on
 * 127.0.0.1, on ports picked at run time; BENCH_REFS_ENTRIES (1M) and
 * BENCH_REFS_SECONDS (3) scale it down; BENCH_REFS_ONLY=P7 (a comma list)
 * runs only the measures named.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeProc } from '../test/helpers/proc.js';
import { BENCH_NODE_ID, BENCH_VALUE, benchKey, closedLoop, rawAppendFsync, type LoadFigures } from './core/load.js';
import { benchNode } from './core/node.js';
import { Redis, ensureDebian, procCpuMs, redisBenchmarkSet, redisPipe, respSets, startBareServer, wrkPut } from './refs/tools.js';
import type { BenchRow, BenchSection } from './run.js';

const ENTRIES = Number(process.env.BENCH_REFS_ENTRIES ?? 1_000_000);
const SECONDS = Number(process.env.BENCH_REFS_SECONDS ?? 3);
/** BENCH_REFS_ONLY=P7 (or a comma list: P1,P2,P7,C1) runs only those measures. */
const ONLY = (process.env.BENCH_REFS_ONLY ?? '').toUpperCase().split(',').filter(Boolean);
const wanted = (m: string): boolean => ONLY.length === 0 || ONLY.includes(m);
const CONNS = 50;
const PUT_BYTES = 100;
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

export async function sections(): Promise<BenchSection[]> {
  const haveRedis = ensureDebian('redis-server', 'redis-server');
  const haveWrk = ensureDebian('wrk', 'wrk');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetkv-bench-refs-'));
  const load0 = os.loadavg();
  try {
    const out: BenchSection[] = [];
    if (haveRedis && haveWrk && wanted('P1')) out.push(await p1(tmp));
    if (wanted('P2')) out.push(await p2(tmp));
    if (haveRedis && wanted('P7')) out.push(await p7(tmp));
    if (wanted('C1')) out.push(await c1());
    const load = `load average (1/5/15 min) ${load0.map((l) => l.toFixed(2)).join('/')} at the start, ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join('/')} at the end, ${os.cpus().length} cores`;
    for (const s of out) (s.notes ??= []).push(load);
    return out;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function p1(tmp: string): Promise<BenchSection> {
  const rows: BenchRow[] = [];
  const sum = { redis: 0, fleetkv: 0, bare: 0 };
  // Server CPU per request (user + system, /proc, 10 ms ticks): less load-sensitive than the rates.
  const cpu = { redis: 0, fleetkv: 0, bare: 0 };
  const us = (ms: number, requests: number): string => ((ms * 1000) / requests).toFixed(1);
  const rounds = 2;
  for (let r = 0; r < rounds; r++) {
    const rdir = fs.mkdtempSync(path.join(tmp, 'redis-'));
    const redis = new Redis(rdir, ['--appendonly', 'yes', '--appendfsync', 'always']);
    await redis.start();
    let rps: number;
    const requests = Math.round(SECONDS * 20_000);
    let rcpu: number;
    try {
      const c0 = procCpuMs(redis.pid);
      rps = redisBenchmarkSet(redis.port, CONNS, requests, PUT_BYTES);
      rcpu = procCpuMs(redis.pid) - c0;
    } finally {
      await redis.stop();
    }
    sum.redis += rps;
    cpu.redis += rcpu;
    rows.push({ round: r + 1, system: 'Redis AOF appendfsync always (redis-benchmark SET)', 'ops/s': Math.round(rps), 'p50 ms': '', 'p99 ms': '', 'server cpu us/req': us(rcpu, requests) });

    const proc = new NodeProc({ nodeId: BENCH_NODE_ID, dataDir: fs.mkdtempSync(path.join(tmp, 'fk-')), env: { FLEETKV_FSYNC: 'batch', FLEETKV_MQTT_ENABLED: 'false' } });
    await proc.start();
    let f: ReturnType<typeof wrkPut>;
    let fcpu: number;
    try {
      const c0 = procCpuMs(proc.pid);
      f = wrkPut(tmp, proc.ports.http!, CONNS, SECONDS, PUT_BYTES);
      fcpu = procCpuMs(proc.pid) - c0;
    } finally {
      await proc.stop();
    }
    sum.fleetkv += f.perSec;
    cpu.fleetkv += fcpu / (f.perSec * SECONDS);
    rows.push({
      round: r + 1,
      system: `fleetkv HTTP PUT fsync=batch (wrk)${f.errors ? `, ${f.errors} non-2xx` : ''}`,
      'ops/s': Math.round(f.perSec),
      'p50 ms': f.p50Ms.toFixed(2),
      'p99 ms': f.p99Ms.toFixed(2),
      'server cpu us/req': us(fcpu, f.perSec * SECONDS),
    });

    const bare = await startBareServer(path.join(tmp, `bare-${r}.log`));
    let b: ReturnType<typeof wrkPut>;
    let bcpu: number;
    try {
      const c0 = procCpuMs(bare.pid);
      b = wrkPut(tmp, bare.port, CONNS, SECONDS, PUT_BYTES);
      bcpu = procCpuMs(bare.pid) - c0;
    } finally {
      await bare.stop();
    }
    sum.bare += b.perSec;
    cpu.bare += bcpu / (b.perSec * SECONDS);
    rows.push({ round: r + 1, system: 'bare node:http + group fdatasync (wrk)', 'ops/s': Math.round(b.perSec), 'p50 ms': b.p50Ms.toFixed(2), 'p99 ms': b.p99Ms.toFixed(2), 'server cpu us/req': us(bcpu, b.perSec * SECONDS) });
  }
  const vsRedis = sum.fleetkv / sum.redis;
  const vsBare = sum.fleetkv / sum.bare;
  return {
    title: `P1: PUT/SET of ${PUT_BYTES} B, ${CONNS} keep-alive connections, ${SECONDS} s per run, ${rounds} alternating rounds`,
    rows,
    notes: [
      goal(`fleetkv / Redis AOF always = ${vsRedis.toFixed(2)}`, vsRedis >= 1, '>= 1.0'),
      goal(`fleetkv / bare Node group fsync = ${vsBare.toFixed(2)}`, vsBare >= 0.8, '>= 0.8'),
      `server CPU per request (mean of the rounds): fleetkv ${((cpu.fleetkv * 1000) / rounds).toFixed(1)} us, bare Node ${((cpu.bare * 1000) / rounds).toFixed(1)} us (fleetkv / bare ${(cpu.fleetkv / cpu.bare).toFixed(2)}), Redis ${((cpu.redis * 1000) / (rounds * Math.round(SECONDS * 20_000))).toFixed(1)} us`,
    ],
  };
}

async function p2(tmp: string): Promise<BenchSection> {
  const ms = SECONDS * 1000;
  const raw256a = rawAppendFsync(tmp, 256, ms / 2);
  const raw1a = rawAppendFsync(tmp, 1, ms / 2);
  const node = benchNode(path.join(tmp, 'lib'), 'batch');
  await node.start();
  let lib256: LoadFigures, lib1: LoadFigures;
  let cpu256: number, cpu1: number;
  try {
    let c0 = process.cpuUsage();
    lib256 = await closedLoop(256, ms, (w, i) => node.put(benchKey(w, i), BENCH_VALUE));
    cpu256 = cpuUsPerOp(process.cpuUsage(c0), lib256, ms);
    c0 = process.cpuUsage();
    lib1 = await closedLoop(1, ms, (w, i) => node.put(benchKey(w, i), BENCH_VALUE));
    cpu1 = cpuUsPerOp(process.cpuUsage(c0), lib1, ms);
  } finally {
    await node.stop();
  }
  const raw256b = rawAppendFsync(tmp, 256, ms / 2);
  const raw1b = rawAppendFsync(tmp, 1, ms / 2);
  const raw256 = (raw256a.ops + raw256b.ops) / (raw256a.seconds + raw256b.seconds);
  const raw1p50 = (raw1a.p50Ms + raw1b.p50Ms) / 2;
  const ratio = lib256.perSec / raw256;
  const p50ratio = lib1.p50Ms / raw1p50;
  return {
    title: `P2: library put vs raw append+fdatasync (200-byte records, ${SECONDS} s; raw measured half before, half after)`,
    rows: [
      { what: 'raw, 256 records per fdatasync', 'records/s': Math.round(raw256), 'p50 ms': ((raw256a.p50Ms + raw256b.p50Ms) / 2).toFixed(3), 'cpu us/put': '' },
      { what: 'library put, 256 writers, batch', 'records/s': Math.round(lib256.perSec), 'p50 ms': lib256.p50Ms.toFixed(3), 'cpu us/put': cpu256.toFixed(1) },
      { what: 'raw, 1 record per fdatasync', 'records/s': Math.round((raw1a.ops + raw1b.ops) / (raw1a.seconds + raw1b.seconds)), 'p50 ms': raw1p50.toFixed(3), 'cpu us/put': '' },
      { what: 'library put, 1 writer, batch', 'records/s': Math.round(lib1.perSec), 'p50 ms': lib1.p50Ms.toFixed(3), 'cpu us/put': cpu1.toFixed(1) },
    ],
    notes: [goal(`library 256 / raw 256 = ${ratio.toFixed(2)}`, ratio >= 0.5, '>= 0.5'), goal(`library 1 writer p50 / raw fdatasync p50 = ${p50ratio.toFixed(2)}`, p50ratio <= 1.2, '<= 1.2')],
  };
}

async function p7(tmp: string): Promise<BenchSection> {
  // fleetkv: the core bench's children (a fresh process each; start() timed).
  const dir = path.join(tmp, 'recovery');
  await child('build', dir, ENTRIES);
  const fromLog = await child('recover', dir);
  await child('compact', dir);
  const fromSnap = await child('recover', dir);
  fs.rmSync(dir, { recursive: true, force: true });

  // Redis: the same keys and value size, loaded through redis-cli --pipe into an AOF, then saved as RDB.
  const rdir = fs.mkdtempSync(path.join(tmp, 'redis-reload-'));
  const resp = path.join(tmp, 'sets.resp');
  respSets(resp, ENTRIES, BENCH_VALUE.length);
  const aofOpts = ['--appendonly', 'yes', '--appendfsync', 'everysec', '--aof-use-rdb-preamble', 'no'];
  const fill = new Redis(rdir, aofOpts);
  await fill.start();
  redisPipe(fill.port, resp);
  fill.cli('save');
  await fill.stop();
  fs.rmSync(resp);
  const aof = new Redis(rdir, aofOpts);
  const aofMs = await aof.start();
  const aofCpuMs = aof.startCpuMs;
  const aofKeys = Number(aof.cli('dbsize'));
  await aof.stop();
  const rdb = new Redis(rdir, ['--appendonly', 'no']);
  const rdbMs = await rdb.start();
  const rdbCpuMs = rdb.startCpuMs;
  const rdbKeys = Number(rdb.cli('dbsize'));
  await rdb.stop();

  const logRatio = Number(fromLog.ms) / aofMs;
  const snapRatio = Number(fromSnap.ms) / rdbMs;
  return {
    title: `P7: restart with ${ENTRIES} distinct keys (${BENCH_VALUE.length}-byte values); fleetkv: FleetNode.start in a fresh process; Redis: spawn to first PONG`,
    rows: [
      { what: 'fleetkv from its log', keys: Number(fromLog.keys), ms: Math.round(Number(fromLog.ms)), 'cpu ms': Math.round(Number(fromLog.cpuMs)) },
      { what: 'Redis reloading an AOF of the same SETs', keys: aofKeys, ms: Math.round(aofMs), 'cpu ms': Math.round(aofCpuMs) },
      { what: 'fleetkv from its snapshot', keys: Number(fromSnap.keys), ms: Math.round(Number(fromSnap.ms)), 'cpu ms': Math.round(Number(fromSnap.cpuMs)) },
      { what: 'Redis loading its RDB', keys: rdbKeys, ms: Math.round(rdbMs), 'cpu ms': Math.round(rdbCpuMs) },
    ],
    notes: [
      goal(`log / AOF = ${logRatio.toFixed(2)}`, logRatio <= 1, '<= 1.0'),
      goal(`snapshot / RDB = ${snapRatio.toFixed(2)}`, snapRatio <= 1, '<= 1.0'),
      // CPU time drifts less with the machine's load than wall time: the same ratios in CPU (Redis from /proc at its first PONG).
      `CPU ratios (less load-sensitive): log / AOF = ${(Number(fromLog.cpuMs) / aofCpuMs).toFixed(2)}, snapshot / RDB = ${(Number(fromSnap.cpuMs) / rdbCpuMs).toFixed(2)}`,
    ],
  };
}

async function c1(): Promise<BenchSection> {
  const r = await runChild(path.join(here, 'refs/catchup-child.ts'), [String(ENTRIES), '10']);
  return {
    title: `C1: sender CPU for a catch-up of 10 entries on a ${ENTRIES}-key store (Outbox.startCatchup + every frame taken; median of 5)`,
    rows: [{ keys: Number(r.keys), missing: Number(r.missing), 'entries sent': Number(r.sent), 'cpu ms (median)': Number(r.cpuMsMedian).toFixed(2), 'cpu ms (min)': Number(r.cpuMsMin).toFixed(2) }],
    notes: [goal(`sender CPU ${Number(r.cpuMsMedian).toFixed(2)} ms`, Number(r.cpuMsMedian) <= 10, '<= 10 ms')],
  };
}

function child(mode: string, dir: string, n?: number): Promise<Record<string, number>> {
  return runChild(path.join(here, 'core/child.ts'), [mode, dir, ...(n === undefined ? [] : [String(n)])]);
}

function runChild(script: string, args: string[]): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', '--max-old-space-size=4096', '--import', 'tsx', script, ...args], { cwd: root, maxBuffer: 16 << 20, timeout: 300_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${path.basename(script)} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, number>);
      } catch {
        reject(new Error(`${script} printed no result: ${stdout}\n${stderr}`));
      }
    });
  });
}

/** Process CPU (user + system) per completed put, the warm-up's puts estimated at the measured rate (closedLoop's 300 ms). */
function cpuUsPerOp(u: NodeJS.CpuUsage, f: LoadFigures, ms: number): number {
  return (u.user + u.system) / (f.ops * (1 + 300 / ms));
}

function goal(what: string, met: boolean, target: string): string {
  return `${what} (goal ${target}): ${met ? 'met' : 'MISSED'}`;
}
