import fs from 'node:fs';

/** What /proc says about a process: whether it runs, and when it started. */
export interface ProcessInfo {
  /** Exists and is not a zombie (killed or exited, waiting for its parent to reap it). */
  running: boolean;
  /** Start time in clock ticks since boot (/proc/PID/stat field 22); with the pid, it names one process for the whole boot. */
  startTime?: string;
}

/**
 * Look a process up. On Linux, /proc/PID/stat gives its state and start time;
 * elsewhere only `kill(pid, 0)` is known, and a zombie counts as running.
 */
export function processInfo(pid: number): ProcessInfo {
  if (!Number.isInteger(pid) || pid <= 0) return { running: false };
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && fs.existsSync('/proc/self/stat')) return { running: false };
    return { running: signalable(pid) };
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTime = fields[19];
  return { running: state !== 'Z' && state !== 'X' && state !== 'x', ...(startTime ? { startTime } : {}) };
}

function signalable(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
