/**
 * Does the group commit overlap CPU with the running fsync (ADR 0003)? The
 * library put under a closed loop of WRITERS (256) writers, fsync=batch, for
 * 3 s: share of wall time with an fdatasync in flight, event-loop
 * utilisation, puts per fsync and CPU per put. Both shares near 50 % and
 * summing to ~100 % mean the two alternate instead of overlapping.
 *
 *   node --import tsx bench/core/overlap.ts      (WRITERS=16 to change the writers)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { defaultIo } from '../../src/log/log.js';
import { FleetNode } from '../../src/node.js';
import { BENCH_VALUE, benchKey, closedLoop } from './load.js';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fk-overlap-'));
let inflight = 0,
  since = 0,
  syncMs = 0,
  fsyncs = 0;
const io = {
  ...defaultIo,
  fdatasync: (fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => {
    inflight++;
    since = performance.now();
    fsyncs++;
    defaultIo.fdatasync(fd, (e) => {
      syncMs += performance.now() - since;
      inflight--;
      cb(e);
    });
  },
};
const config = loadConfig({ env: {}, overrides: { nodeId: 'bench', dataDir: dir, log: { fsync: 'batch' } } });
const node = new FleetNode(config, { logger: pino({ level: 'warn' }), services: () => [], io } as never);
await node.start();
const writers = Number(process.env.WRITERS ?? 256);
await closedLoop(writers, 500, (w, i) => node.put(benchKey(w, i), BENCH_VALUE), 200);
syncMs = 0;
fsyncs = 0;
const elu0 = performance.eventLoopUtilization();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const r = await closedLoop(writers, 3000, (w, i) => node.put(benchKey(w, i), BENCH_VALUE), 0);
const wall = performance.now() - t0;
const elu = performance.eventLoopUtilization(elu0);
const cpu = process.cpuUsage(cpu0);
console.log(
  JSON.stringify({
    writers,
    putsPerS: Math.round(r.perSec),
    putsPerFsync: +((r.perSec * wall) / 1000 / fsyncs).toFixed(1),
    fsyncInFlightPct: +((syncMs / wall) * 100).toFixed(1),
    meanFsyncMs: +(syncMs / fsyncs).toFixed(3),
    eventLoopUtilPct: +(elu.utilization * 100).toFixed(1),
    cpuUsPerPut: +((cpu.user + cpu.system) / ((r.perSec * wall) / 1000)).toFixed(1),
    load: os.loadavg()[0],
  }),
);
await node.stop();
fs.rmSync(dir, { recursive: true, force: true });
