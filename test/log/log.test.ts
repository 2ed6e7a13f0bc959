import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isFleetError } from '../../src/errors.js';
import { listLogDir, segmentPath } from '../../src/log/files.js';
import { Log, defaultIo, type FsyncPolicy, type LogIo } from '../../src/log/log.js';
import { recoverLog } from '../../src/log/recovery.js';
import { fullDiskIo, ioError, switchableIo } from '../helpers/faulty-io.js';
import { waitFor } from '../helpers/proc.js';
import { tempDir } from '../helpers/proc.js';

const MAX = 1 << 20;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function freshDir(): string {
  const d = tempDir('fleetkv-log-');
  dirs.push(d);
  return d;
}

function openLog(dir: string, fsync: FsyncPolicy = 'batch', io?: LogIo, segmentBytes = 1 << 20): Log {
  const rec = recoverLog(dir, MAX, () => {});
  return new Log({ dir, fsync, fsyncIntervalMs: 5, segmentBytes, activeSegment: rec.activeSegment, activeSize: rec.activeSize, ...(io ? { io } : {}) }, 0);
}

function payloads(dir: string): string[] {
  const out: string[] = [];
  recoverLog(dir, MAX, (p) => out.push(p.toString()), { truncate: false });
  return out;
}

describe('log: group commit', () => {
  it.each(['always', 'batch', 'interval', 'never'] as const)('fsync=%s: every acknowledged record is recovered, in order', async (policy) => {
    const dir = freshDir();
    const log = openLog(dir, policy);
    const n = 300;
    await Promise.all(Array.from({ length: n }, (_, i) => log.append(Buffer.from(`rec-${i}`))));
    await log.close();
    expect(payloads(dir)).toEqual(Array.from({ length: n }, (_, i) => `rec-${i}`));
    if (policy === 'batch') expect(log.fsyncs).toBeLessThan(n / 2); // grouped: far fewer fsyncs than writes
    if (policy === 'always') expect(log.fsyncs).toBeGreaterThanOrEqual(n);
  });

  it('rolls segments and keeps appending across them', async () => {
    const dir = freshDir();
    const log = openLog(dir, 'batch', undefined, 4096);
    // Sequential groups: a segment rolls between batches, so one huge batch makes one segment.
    for (let i = 0; i < 500; i += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => log.append(Buffer.alloc(50, (i + j) % 256))));
    const seg = await log.roll();
    await log.append(Buffer.from('after-roll'));
    await log.close();
    expect(listLogDir(dir).segments.length).toBeGreaterThan(5);
    expect(listLogDir(dir).segments.at(-1)).toBe(seg);
    expect(payloads(dir).at(-1)).toBe('after-roll');
    expect(payloads(dir)).toHaveLength(501);
  });
});

describe('log: faults', () => {
  it('a full disk (short write then ENOSPC) fails the writes with DISK_FULL, leaves no partial record, and works again when space is back', async () => {
    const dir = freshDir();
    const budget = { bytes: 10_000 };
    const log = openLog(dir, 'batch', fullDiskIo(budget));
    const ok: number[] = [];
    const failed: unknown[] = [];
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        log.append(Buffer.alloc(100, i)).then(
          () => ok.push(i),
          (err: unknown) => failed.push(err),
        ),
      ),
    );
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((e) => isFleetError(e, 'DISK_FULL'))).toBe(true);
    // Space comes back: the log takes writes again.
    budget.bytes = 1 << 20;
    await log.append(Buffer.from('after'));
    await log.close();
    const rec = recoverLog(dir, MAX, () => {}, { truncate: false });
    expect(rec.tornTail).toBeUndefined(); // nothing half-written survived
    const got = payloads(dir);
    expect(got).toHaveLength(ok.length + 1);
    expect(got.at(-1)).toBe('after');
  });

  it('an fsync error fails the batch and cuts it from the file', async () => {
    const dir = freshDir();
    let failNext = false;
    const io: LogIo = {
      ...defaultIo,
      fdatasync: (fd, cb) => (failNext ? ((failNext = false), cb(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }))) : defaultIo.fdatasync(fd, cb)),
    };
    const log = openLog(dir, 'batch', io);
    await log.append(Buffer.from('one'));
    failNext = true;
    const err = await log.append(Buffer.from('two')).catch((e: unknown) => e);
    expect(isFleetError(err, 'IO_ERROR')).toBe(true);
    await log.append(Buffer.from('three'));
    await log.close();
    expect(payloads(dir)).toEqual(['one', 'three']);
  });

  it('a failed directory fsync during a roll leaks no descriptor, keeps the log appending, is retried (rate-limited) and the roll then succeeds', async () => {
    const dir = freshDir();
    const faults: { fsyncDir?: NodeJS.ErrnoException } = {};
    const io = switchableIo(faults);
    const reports: string[] = [];
    const rec = recoverLog(dir, MAX, () => {});
    const log = new Log({ dir, fsync: 'batch', fsyncIntervalMs: 5, segmentBytes: 4096, activeSegment: rec.activeSegment, activeSize: rec.activeSize, io, onBackgroundError: (e) => reports.push(e.message) }, 0);
    const first = log.activeSegment;
    faults.fsyncDir = ioError('EIO', 'fsync');
    const written: string[] = [];
    const write = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const p = `rec-${written.length}-${'x'.repeat(200)}`;
        written.push(p);
        await log.append(Buffer.from(p)); // every append still succeeds
      }
    };
    await write(200); // ~45 KB: the 4 KiB segment is due to roll at almost every batch
    expect(log.activeSegment).toBe(first);
    expect(log.rollFailures).toBeGreaterThanOrEqual(1);
    expect(log.rollFailures).toBeLessThanOrEqual(3); // retried after a backoff, not at every batch
    expect(reports.length).toBe(log.rollFailures);
    expect(reports[0]).toMatch(/segment roll.*keeps appending to segment/);
    expect(io.open.size).toBe(1); // only the active segment: the half-made one's descriptor was closed
    expect(listLogDir(dir).segments).toEqual([first, first + 1]); // left behind, empty
    // The fault clears: the next try (here a requested roll) reuses the empty file and switches.
    delete faults.fsyncDir;
    expect(await log.roll()).toBe(first + 1);
    expect(log.rollError).toBeUndefined();
    await write(100);
    await waitFor(() => log.activeSegment > first + 1, 'automatic rolls to work again');
    expect(io.open.size).toBe(1);
    await log.close();
    expect(io.open.size).toBe(0);
    expect(payloads(dir)).toEqual(written);
  });

  it('an automatic roll that failed is retried by itself once the fault is gone', async () => {
    const dir = freshDir();
    const faults: { fsyncDir?: NodeJS.ErrnoException } = {};
    const io = switchableIo(faults);
    const rec = recoverLog(dir, MAX, () => {});
    const log = new Log({ dir, fsync: 'batch', fsyncIntervalMs: 5, segmentBytes: 1024, activeSegment: rec.activeSegment, activeSize: rec.activeSize, io }, 0);
    faults.fsyncDir = ioError('EIO', 'fsync');
    const first = log.activeSegment;
    const written: string[] = [];
    const put = async (): Promise<void> => {
      const p = `r${written.length}-${'y'.repeat(300)}`;
      written.push(p);
      await log.append(Buffer.from(p));
    };
    for (let i = 0; i < 10; i++) await put();
    expect(log.rollFailures).toBe(1);
    delete faults.fsyncDir;
    await waitFor(async () => (await put(), log.activeSegment > first), 'the retried roll to switch segments', 10_000, 50);
    expect(log.rollError).toBeUndefined();
    await log.close();
    expect(io.open.size).toBe(0);
    expect(payloads(dir)).toEqual(written);
  });

  it('a roll refuses to reuse a next segment that holds data, and the log keeps appending to the active one', async () => {
    const dir = freshDir();
    const log = openLog(dir, 'batch', undefined, 1 << 20);
    await log.append(Buffer.from('a'));
    fs.writeFileSync(segmentPath(dir, log.activeSegment + 1), 'not empty');
    const err = await log.roll().catch((e: unknown) => e);
    expect(isFleetError(err, 'LOG_CORRUPT')).toBe(true);
    await log.append(Buffer.from('b'));
    await log.close();
    fs.rmSync(segmentPath(dir, log.activeSegment + 1));
    expect(payloads(dir)).toEqual(['a', 'b']);
  });
});

describe('log: recovery', () => {
  async function writeSegments(dir: string, n: number, segmentBytes = 1 << 20): Promise<void> {
    const log = openLog(dir, 'batch', undefined, segmentBytes);
    for (let i = 0; i < n; i += 10) {
      await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, j) => log.append(Buffer.from(`record-${i + j}`))));
    }
    await log.close();
  }

  it('cuts a record torn mid-way at the tail and keeps every complete one', async () => {
    const dir = freshDir();
    await writeSegments(dir, 50);
    const file = segmentPath(dir, 1);
    const size = fs.statSync(file).size;
    fs.truncateSync(file, size - 3);
    const rec = recoverLog(dir, MAX, () => {});
    expect(rec.tornTail?.reason).toMatch(/truncated/);
    expect(rec.records).toBe(49);
    expect(fs.statSync(file).size).toBe(rec.activeSize);
    expect(payloads(dir)).toHaveLength(49);
  });

  it('cuts garbage appended at the tail', async () => {
    const dir = freshDir();
    await writeSegments(dir, 20);
    fs.appendFileSync(segmentPath(dir, 1), Buffer.from('\x00\x00\x00\x10garbage-garbage-garbage'));
    const rec = recoverLog(dir, MAX, () => {});
    expect(rec.tornTail).toBeDefined();
    expect(rec.records).toBe(20);
  });

  it('refuses a damaged older segment, naming the file and offset', async () => {
    const dir = freshDir();
    await writeSegments(dir, 1000, 4096);
    const segs = listLogDir(dir).segments;
    expect(segs.length).toBeGreaterThan(2);
    const file = segmentPath(dir, segs[0]!);
    const buf = fs.readFileSync(file);
    buf[100] = buf[100]! ^ 0xff; // a bit flip inside an old record
    fs.writeFileSync(file, buf);
    let err: unknown;
    try {
      recoverLog(dir, MAX, () => {});
    } catch (e) {
      err = e;
    }
    expect(isFleetError(err, 'LOG_CORRUPT')).toBe(true);
    expect((err as Error).message).toContain(path.basename(file));
    expect((err as Error).message).toMatch(/offset \d+/);
    expect((err as Error).message).toContain('fleetkv repair');
  });

  it('refuses damage in the middle of the newest segment when valid records follow', async () => {
    const dir = freshDir();
    await writeSegments(dir, 50);
    const file = segmentPath(dir, 1);
    const buf = fs.readFileSync(file);
    buf[30] = buf[30]! ^ 0x01;
    fs.writeFileSync(file, buf);
    expect(() => recoverLog(dir, MAX, () => {})).toThrow(/valid records follow/);
  });
});
