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
