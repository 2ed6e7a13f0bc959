import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fsyncDir } from '../../src/log/files.js';
import { tempDir, waitFor } from './proc.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'powercut-fs.py');
const PYTHON = '/usr/bin/python3';

/** Why the power-cut file system cannot run here, or undefined when it can. */
export const powerCutUnavailable: string | undefined = (() => {
  if (!fs.existsSync('/dev/fuse')) return '/dev/fuse is absent (no FUSE on this machine)';
  if (!fs.existsSync(PYTHON) || spawnSync(PYTHON, ['-c', 'import fusepy']).status !== 0) return `${PYTHON} cannot import fusepy (apt-get install python3-fusepy fuse3)`;
  if (spawnSync('fusermount3', ['-V']).status !== 0) return 'fusermount3 is missing (apt-get install fuse3)';
  return undefined;
})();

export interface PowerCutStatus {
  frozen: boolean;
  /** Operations waiting on a frozen disk. */
  blocked: number;
  /** A freezeOn trigger is waiting for its operation. */
  armed: boolean;
  /** Files written since their last fsync. */
  dirtyFiles: number;
  /** Directories whose listing differs from their last fsynced one. */
  unsyncedDirs: number;
  cuts: number;
  fsyncs: number;
  dirFsyncs: number;
  writes: number;
}

function mounted(dir: string): boolean {
  return fs
    .readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1] === dir);
}

/**
 * A power-cut file system (test/helpers/powercut-fs.py, LazyFS-style) mounted
 * over a backing dir of its own: data is durable once its file is fsynced,
 * names once their directory is fsynced; `cut()` drops everything else, as a
 * real disk losing power would. Kill the processes using it before a cut.
 */
export class PowerCutFs {
  readonly backing = tempDir('fleetkv-powercut-backing-');
  readonly dir = tempDir('fleetkv-powercut-mnt-');
  private proc: ChildProcess | undefined;
  private stderr = '';

  async start(): Promise<this> {
    if (powerCutUnavailable) throw new Error(`power-cut file system unavailable: ${powerCutUnavailable}`);
    const proc = spawn(PYTHON, [SCRIPT, this.backing, this.dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    let exited = false;
    proc.once('exit', () => (exited = true));
    await waitFor(() => {
      if (exited) throw new Error(`powercut-fs exited before mounting: ${this.stderr}`);
      return mounted(this.dir);
    }, 'the power-cut file system to mount');
    return this;
  }

  /** A directory on the file system whose own name is durable (as a data dir made at install time is). */
  mkdir(name: string): string {
    const d = path.join(this.dir, name);
    fs.mkdirSync(d, { recursive: true });
    fsyncDir(this.dir);
    return d;
  }

  private control(cmd: string): void {
    fs.writeFileSync(path.join(this.dir, '.powercut'), cmd);
  }

  /**
   * Freeze the disk at the next `op` (create, write, fsync, fsyncdir, rename,
   * unlink, truncate…) on a path (relative to the mount, from '/') matching
   * `re`: 'at' blocks that operation, 'after' lets it happen and blocks the next.
   */
  freezeOn(when: 'at' | 'after', op: string, re: RegExp): void {
    this.control(`freeze-${when} ${op} ${re.source}`);
  }

  /** Power cut: every file back to its last fsync, every directory back to its last fsync. */
  cut(): void {
    this.control('cut');
  }

  /** The disk stops answering: every later operation blocks until `cut()` (then fails, without effect). */
  freeze(): void {
    this.control('freeze');
  }

  thaw(): void {
    this.control('thaw');
  }

  /** Thaw if frozen; a no-op when the file system is gone. */
  thawIfFrozen(): void {
    try {
      if (this.status().frozen) this.thaw();
    } catch {
      /* not mounted any more */
    }
  }

  status(): PowerCutStatus {
    return JSON.parse(fs.readFileSync(path.join(this.dir, '.powercut'), 'utf8')) as PowerCutStatus;
  }

  /** Anything the file system logged (errors of its own). */
  get log(): string {
    return this.stderr;
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      // Busy for a moment after the last user exited (release requests in flight): retry, then detach lazily.
      let r = spawnSync('fusermount3', ['-u', this.dir]);
      for (let i = 0; r.status !== 0 && i < 20 && mounted(this.dir); i++) {
        await new Promise((res) => setTimeout(res, 100));
        r = spawnSync('fusermount3', ['-u', this.dir]);
      }
      if (mounted(this.dir)) spawnSync('fusermount3', ['-uz', this.dir]);
      await Promise.race([exited, new Promise((res) => setTimeout(res, 5000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
    if (!mounted(this.dir)) fs.rmSync(this.dir, { recursive: true, force: true });
    fs.rmSync(this.backing, { recursive: true, force: true });
  }
}
