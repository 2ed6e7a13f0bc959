/**
 * Measurements that need a process of their own (a cold start, or a clean
 * memory baseline). Run as `node --expose-gc --import tsx bench/core/child.ts
 * <mode> <dataDir> [n]`; prints one JSON line on stdout.
 *
 *   build <dir> <n>       write n distinct keys (fsync=never), stop cleanly
 *   recover <dir>         time FleetNode.start on the data in dir, then stop
 *   compact <dir>         start, write a snapshot (compaction), stop
 *   mapref <dir> <n>      build a plain Map of n string keys (the machine's pace)
 *   memory <dir> <n>      memory for n keys of 100-byte values, then n more
 */
import { BENCH_VALUE } from './load.js';
import { benchNode, fillDistinct } from './node.js';

const MEMORY_VALUE_BYTES = 100;

function gcNow(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  gc();
}

async function main(): Promise<Record<string, unknown>> {
  const [mode, dir, nText] = process.argv.slice(2);
  if (!dir) throw new Error('usage: child.ts <mode> <dataDir> [n]');
  const n = Number(nText ?? 0);
  switch (mode) {
    case 'build': {
      const node = benchNode(dir, 'never');
      await node.start();
      const t0 = performance.now();
      await fillDistinct(node, n, BENCH_VALUE);
      const ms = performance.now() - t0;
      const logBytes = (node.status().log as { bytes: number }).bytes;
      await node.stop();
      return { ms, logBytes };
    }
    case 'recover': {
      const node = benchNode(dir, 'batch');
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await node.start();
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const result = { ms, cpuMs: (cpu.user + cpu.system) / 1000, records: node.lastRecovery?.records, recoveryMs: node.lastRecovery?.ms, keys: node.store.size, rss: process.memoryUsage().rss };
      await node.stop();
      return result;
    }
    case 'compact': {
      const node = benchNode(dir, 'batch');
      await node.start();
      await node.compact();
      const c = node.lastCompaction;
      await node.stop();
      return { ...c };
    }
    case 'memory': {
      // n keys, then n more: the second step is the marginal cost per key,
      // without the fixed growth of the heap's young generation and pools.
      const node = benchNode(dir, 'never');
      await node.start();
      const value = Buffer.alloc(MEMORY_VALUE_BYTES, 'm');
      gcNow();
      const m0 = process.memoryUsage();
      await fillDistinct(node, n, value);
      gcNow();
      const m1 = process.memoryUsage();
      await fillDistinct(node, 2 * n, value, 256, n);
      gcNow();
      const m2 = process.memoryUsage();
      const keys = node.store.size;
      await node.stop();
      const delta = (a: NodeJS.MemoryUsage, b: NodeJS.MemoryUsage): Record<string, number> => ({ rss: b.rss - a.rss, heapUsed: b.heapUsed - a.heapUsed, external: b.external - a.external });
      return { keys, valueBytes: MEMORY_VALUE_BYTES, first: delta(m0, m1), second: delta(m1, m2) };
    }
    case 'mapref': {
      // The machine's pace for the same amount of state: a plain Map of n
      // string keys to small objects, which any recovery has to build.
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const map = new Map<string, { i: number }>();
      for (let i = 0; i < n; i++) map.set(`key/${String(i).padStart(7, '0')}`, { i });
      const cpu = process.cpuUsage(cpu0);
      return { ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, records: map.size };
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

main().then(
  (r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
