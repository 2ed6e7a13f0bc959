/**
 * The pipelined group commit (fsync=batch, docs/adr/0003-log-writer.md):
 * records appended while an fsync runs are written to the file before it
 * returns, acknowledgements stay in append order, and a failed fsync fails
 * its batch and every record after it, leaving none of them in the file.
 */
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { isFleetError } from '../../src/errors.js';
import { Log, type LogIo } from '../../src/log/log.js';
import { RECORD_HEADER_BYTES } from '../../src/log/record.js';
import { recoverLog } from '../../src/log/recovery.js';
import { heldFsyncIo, ioError } from '../helpers/faulty-io.js';
import { tempDir, waitFor } from '../helpers/proc.js';

const MAX = 1 << 20;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function openLog(io: LogIo): { dir: string; log: Log } {
  const dir = tempDir('fleetkv-pipe-');
  dirs.push(dir);
  const rec = recoverLog(dir, MAX, () => {});
  return { dir, log: new Log({ dir, fsync: 'batch', fsyncIntervalMs: 5, segmentBytes: 1 << 20, activeSegment: rec.activeSegment, activeSize: rec.activeSize, io }, 0) };
}

function payloads(dir: string): string[] {
  const out: string[] = [];
  recoverLog(dir, MAX, (p) => out.push(p.toString()), { truncate: false });
  return out;
}

/** Append `names`, recording the order in which they settle. */
function appendAll(log: Log, names: string[], settled: string[]): Promise<'ok' | string>[] {
  return names.map((n) =>
    log.append(Buffer.from(n)).then(
      () => {
        settled.push(`${n}:ok`);
        return 'ok' as const;
      },
      (err: unknown) => {
        settled.push(`${n}:failed`);
        return isFleetError(err) ? err.code : String(err);
      },
    ),
  );
}

describe('log: pipelined group commit (batch)', () => {
  it('writes the next batch while the previous fsync runs, and acknowledges in append order', async () => {
    const io = heldFsyncIo();
    const { dir, log } = openLog(io);
    const settled: string[] = [];
    const a = appendAll(log, ['a1', 'a2'], settled);
    await waitFor(() => io.held.length === 1, 'fsync of batch a');
    const b = appendAll(log, ['b1', 'b2', 'b3'], settled);
    // Batch b reaches the file while a's fsync is still held: CPU and I/O overlap.
    await waitFor(() => io.events.filter((e) => e.op === 'write').length === 2, 'batch b written');
    expect(io.events.map((e) => `${e.op}@${e.heldFsyncs}`)).toEqual(['write@0', 'fsync@0', 'write@1']);
    expect(settled).toEqual([]);
    const c = appendAll(log, ['c1'], settled);
    await waitFor(() => io.events.filter((e) => e.op === 'write').length === 3, 'c written');
    io.release(); // a durable
    await Promise.all(a);
    expect(settled).toEqual(['a1:ok', 'a2:ok']);
    // One fsync covers everything written meanwhile (b and c).
    await waitFor(() => io.held.length === 1, 'fsync of b and c');
    io.release();
    expect(await Promise.all([...b, ...c])).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(settled).toEqual(['a1:ok', 'a2:ok', 'b1:ok', 'b2:ok', 'b3:ok', 'c1:ok']);
    const closing = log.close();
    await closing;
    expect(payloads(dir)).toEqual(['a1', 'a2', 'b1', 'b2', 'b3', 'c1']);
  });

  it('a turn with many appends starts its fsync part-way, and the rest of the turn is written while it runs', async () => {
    const io = heldFsyncIo();
    const { dir, log } = openLog(io);
    const settled: string[] = [];
    const names = Array.from({ length: 200 }, (_, i) => `r${i}`);
    const all = appendAll(log, names, settled); // one turn, no fsync running: a closed loop of 200 writers
    // The fsync began inside the turn, after the first 64 records (EARLY_FSYNC_RECORDS)…
    expect(io.events.map((e) => e.op)).toEqual(['write', 'fsync']);
    expect(io.events[0]!.bytes).toBe(names.slice(0, 64).reduce((n, x) => n + x.length + RECORD_HEADER_BYTES, 0));
    // …and the other 136 reach the file while it is held.
    await waitFor(() => io.events.length === 3, 'the rest of the turn written');
    expect(io.events[2]).toMatchObject({ op: 'write', heldFsyncs: 1 });
    io.release();
    await waitFor(() => settled.length === 64 && io.held.length === 1, 'the first 64 acknowledged, the rest under their own fsync');
    expect(settled).toEqual(names.slice(0, 64).map((n) => `${n}:ok`));
    io.release();
    expect((await Promise.all(all)).every((r) => r === 'ok')).toBe(true);
    expect(settled).toEqual(names.map((n) => `${n}:ok`));
    await log.close();
    expect(payloads(dir)).toEqual(names);
  });

  it('a failed fsync fails its batch and every batch written after it, cuts them from the file, and the log goes on', async () => {
    const io = heldFsyncIo();
    const { dir, log } = openLog(io);
    const settled: string[] = [];
    const first = appendAll(log, ['ok0'], settled);
    await waitFor(() => io.held.length === 1, 'fsync 0');
    io.release();
    await Promise.all(first);
    const a = appendAll(log, ['a1', 'a2'], settled);
    await waitFor(() => io.held.length === 1, 'fsync of batch a');
    const b = appendAll(log, ['b1', 'b2'], settled);
    await waitFor(() => io.events.filter((e) => e.op === 'write').length === 3, "batch b written during a's fsync");
    io.release(ioError('EIO', 'fdatasync'));
    expect(await Promise.all([...a, ...b])).toEqual(['IO_ERROR', 'IO_ERROR', 'IO_ERROR', 'IO_ERROR']);
    expect(settled).toEqual(['ok0:ok', 'a1:failed', 'a2:failed', 'b1:failed', 'b2:failed']);
    expect(payloads(dir)).toEqual(['ok0']); // neither batch is left in the file
    // The log keeps working after the fault.
    const c = appendAll(log, ['c1'], settled);
    await waitFor(() => io.held.length === 1, 'fsync of c');
    io.release();
    expect(await Promise.all(c)).toEqual(['ok']);
    await log.close();
    expect(payloads(dir)).toEqual(['ok0', 'c1']);
  });

  it('a failed fsync of a later batch leaves the earlier, durable batch acknowledged and fails what was written after it', async () => {
    const io = heldFsyncIo();
    const { dir, log } = openLog(io);
    const settled: string[] = [];
    const a = appendAll(log, ['a1'], settled);
    await waitFor(() => io.held.length === 1, 'fsync of a');
    const b = appendAll(log, ['b1'], settled);
    await waitFor(() => io.events.filter((e) => e.op === 'write').length === 2, 'b written');
    io.release(); // a durable; b's fsync starts
    await waitFor(() => io.held.length === 1, 'fsync of b');
    const c = appendAll(log, ['c1', 'c2'], settled);
    await waitFor(() => io.events.filter((e) => e.op === 'write').length === 3, "c written during b's fsync");
    io.release(ioError('EIO', 'fdatasync'));
    expect(await Promise.all([...a, ...b, ...c])).toEqual(['ok', 'IO_ERROR', 'IO_ERROR', 'IO_ERROR']);
    expect(settled).toEqual(['a1:ok', 'b1:failed', 'c1:failed', 'c2:failed']);
    await log.close();
    expect(payloads(dir)).toEqual(['a1']);
  });
});
