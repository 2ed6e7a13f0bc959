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
