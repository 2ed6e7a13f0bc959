import fs from 'node:fs';
import { defaultIo, type LogIo } from '../../src/log/log.js';

/**
 * The log's file layer with a byte budget, like a disk that fills up: writes
 * past the budget are cut short, then fail with ENOSPC. Raise `budget.bytes`
 * to give space back.
 */
export function fullDiskIo(budget: { bytes: number }): LogIo {
  return {
    ...defaultIo,
    writeSync: (fd, buf, off, len, pos) => {
      if (budget.bytes <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      const n = Math.min(len, budget.bytes);
      budget.bytes -= n;
      return defaultIo.writeSync(fd, buf, off, n, pos);
    },
  };
}

/**
 * The log's file layer with a switch per operation: while `faults.fsyncDir`
 * (or `faults.openNext`, for opens that create a file) is set, that call
 * throws it. Counts descriptors the log opened and has not closed (`open`).
 */
export function switchableIo(faults: { fsyncDir?: NodeJS.ErrnoException; openCreate?: NodeJS.ErrnoException }): LogIo & { open: Set<number> } {
  const open = new Set<number>();
  return {
    ...defaultIo,
    open,
    openSync: ((file: string, flags: number, mode?: number) => {
      if (faults.openCreate && flags & fs.constants.O_CREAT) throw faults.openCreate;
      const fd = defaultIo.openSync(file, flags, mode);
      open.add(fd);
      return fd;
    }) as LogIo['openSync'],
    closeSync: (fd) => {
      open.delete(fd);
      defaultIo.closeSync(fd);
    },
    fsyncDir: (dir) => {
      if (faults.fsyncDir) throw faults.fsyncDir;
      defaultIo.fsyncDir(dir);
    },
  };
}

export function ioError(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: i/o error, ${syscall}`), { code, syscall });
}

/**
 * The log's file layer with fsyncs held until the test lets them go: each
 * fdatasync is queued (it does run for real first) and completes only on
 * `release(err?)`, oldest first. `events` records, in order, each write
 * ("write") and each fsync start ("fsync"), with the number of fsyncs then
 * still held, so a test can see writes overlapping a running fsync.
 */
export function heldFsyncIo(): LogIo & {
  held: ((err: NodeJS.ErrnoException | null) => void)[];
  events: { op: 'write' | 'fsync'; heldFsyncs: number; bytes: number }[];
  release: (err?: NodeJS.ErrnoException) => void;
  /** While false, fsyncs complete at once (as on a normal disk); set it to hold the next ones. */
  holding: boolean;
} {
  const held: ((err: NodeJS.ErrnoException | null) => void)[] = [];
  const events: { op: 'write' | 'fsync'; heldFsyncs: number; bytes: number }[] = [];
  const io: LogIo & { held: typeof held; events: typeof events; release: (err?: NodeJS.ErrnoException) => void; holding: boolean } = {
    ...defaultIo,
    holding: true,
    held,
    events,
    writeSync: (fd, buf, off, len, pos) => {
      events.push({ op: 'write', heldFsyncs: held.length, bytes: len });
      return defaultIo.writeSync(fd, buf, off, len, pos);
    },
    fdatasync: (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      events.push({ op: 'fsync', heldFsyncs: held.length, bytes: 0 });
      fs.fdatasyncSync(fd);
      if (io.holding) held.push(cb);
      else setImmediate(cb, null);
    },
    release: (err?: NodeJS.ErrnoException) => {
      const cb = held.shift();
      if (!cb) throw new Error('no fsync is held');
      cb(err ?? null);
    },
  };
  return io;
}
