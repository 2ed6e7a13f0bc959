/**
 * Operator tools at robot scale: how long a backup, a restore, an export and
 * an import take for a store of 100k keys, and what one sd_notify message
 * costs (one `systemd-notify` process). `npm run bench -- ops`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load.js';
import { runDaemon } from '../src/daemon.js';
import { HttpApi } from '../src/http/server.js';
import type { FleetNode } from '../src/node.js';
import { systemdNotifySender } from '../src/util/sdnotify.js';
import { createLogger } from '../src/util/logger.js';
import type { BenchSection } from './run.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist/cli/main.js');
const KEYS = 100_000;
const IMPORT_LINES = 10_000;

/** Run the CLI (asynchronously: the node under test lives in this process's event loop); resolves with its duration. */
function cli(args: string[], env: Record<string, string> = {}): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`fleetkv ${args.join(' ')}: ${stderr}`))));
  });
}

async function startNode(dataDir: string): Promise<{ url: string; ms: number; node: FleetNode; stop: () => Promise<void> }> {
  const config = loadConfig({ env: {}, overrides: { nodeId: 'bench-1', dataDir, http: { host: '127.0.0.1', port: 0 } } });
  const t0 = performance.now();
  const d = await runDaemon(config, { handleSignals: false, services: (host) => [new HttpApi(host)], logger: createLogger('warn', 'bench-1') });
  return { url: `http://127.0.0.1:${d.httpPort}`, ms: performance.now() - t0, node: d.node, stop: d.stop };
}

async function notifyCost(dir: string): Promise<number[]> {
  const sock = path.join(dir, 'notify.sock');
  const listener = spawn('python3', [path.join(ROOT, 'test/deploy/fixtures/notify-listener.py'), sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => listener.stdout.once('data', () => resolve()));
  const times: number[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await systemdNotifySender(sock, ['WATCHDOG=1']);
      times.push(performance.now() - t0);
    }
  } finally {
    listener.kill();
  }
  return times.sort((a, b) => a - b);
}

export async function sections(): Promise<BenchSection[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetkv-bench-ops-'));
  const dataDir = path.join(dir, 'data');
  const rows: BenchSection['rows'] = [];
  const value = Buffer.alloc(100, 'x');
  const rate = (n: number, ms: number): number => Math.round(n / (ms / 1000));

  let node = await startNode(dataDir);
  // Fill in process (the HTTP write path is the core bench's business), 256 writes in flight.
  let t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 256 }, async () => {
      while (next < KEYS) {
        const i = next++;
        await node.node.put(`robots/r${i % 100}/k${i}`, value);
      }
    }),
  );
  rows.push({ step: `fill ${KEYS} keys of 100 B (in process)`, ms: Math.round(performance.now() - t0), 'per s': rate(KEYS, performance.now() - t0), bytes: '' });

  const snap = path.join(dir, 'backup.snap');
  let ms = await cli(['snapshot', '--out', snap], { FLEETKV_URL: node.url });
  const snapBytes = fs.statSync(snap).size;
  rows.push({ step: 'fleetkv snapshot (running node, over HTTP)', ms: Math.round(ms), 'per s': rate(KEYS, ms), bytes: snapBytes });

  const out = path.join(dir, 'all.jsonl');
  ms = await cli(['export', '--out', out], { FLEETKV_URL: node.url });
  rows.push({ step: 'fleetkv export (running node, paged)', ms: Math.round(ms), 'per s': rate(KEYS, ms), bytes: fs.statSync(out).size });

  const lines = fs.readFileSync(out, 'utf8').split('\n').slice(0, IMPORT_LINES).join('\n');
  const part = path.join(dir, 'part.jsonl');
  fs.writeFileSync(part, lines);
  ms = await cli(['import', part], { FLEETKV_URL: node.url });
  rows.push({ step: `fleetkv import ${IMPORT_LINES} lines (64 in flight)`, ms: Math.round(ms), 'per s': rate(IMPORT_LINES, ms), bytes: '' });

  await node.stop();
  ms = await cli(['restore', snap, '--node-id', 'bench-1', '--data-dir', dataDir]);
  rows.push({ step: 'fleetkv restore (stopped node)', ms: Math.round(ms), 'per s': rate(KEYS, ms), bytes: '' });
  node = await startNode(dataDir);
  rows.push({ step: 'start after restore (recovery from the snapshot) to ready', ms: Math.round(node.ms), 'per s': rate(KEYS, node.ms), bytes: '' });
  await node.stop();
  t0 = performance.now();
  ms = await cli(['snapshot', '--offline', '--out', path.join(dir, 'offline.snap'), '--node-id', 'bench-1', '--data-dir', dataDir]);
  rows.push({ step: 'fleetkv snapshot --offline (opens the data dir)', ms: Math.round(ms), 'per s': rate(KEYS, ms), bytes: fs.statSync(path.join(dir, 'offline.snap')).size });

  const notes: string[] = [];
  const times = await notifyCost(dir);
  notes.push(`one sd_notify message through systemd-notify (a child process, asynchronous: the event loop does not wait): median ${times[10]!.toFixed(1)} ms, max ${times[19]!.toFixed(1)} ms wall time; the watchdog sends one every 15 s`);
  notes.push(
    `machine load average during this run: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')} on ${os.cpus().length} cores (figures are only comparable at similar load)`,
  );
  notes.push(`snapshot size ${(snapBytes / KEYS).toFixed(0)} B per key for 100 B values`);
  fs.rmSync(dir, { recursive: true, force: true });
  return [{ title: `Operator tools on ${KEYS} keys`, rows, notes }];
}
