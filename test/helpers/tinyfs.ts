import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { tempDir, waitFor } from './proc.js';

/** Whether this machine lets us make private mount namespaces (root + util-linux). */
export const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true']).status === 0 && spawnSync('nsenter', ['--version']).status === 0;

/**
 * A small real filesystem (tmpfs) in a private mount namespace, held open by
 * a `sleep` process, so a node run inside it (`wrap`) sees a disk that fills
 * up, and can be stopped and restarted on the same files. `resize` gives
 * space back. Nothing outside the namespace sees the mount.
 */
export class TinyFs {
  readonly dir = tempDir('fleetkv-tinyfs-');
  private holder!: ChildProcess;

  async start(sizeKiB: number): Promise<this> {
    this.holder = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o size=${sizeKiB}k tmpfs '${this.dir}' && echo mounted && exec sleep 3600`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    this.holder.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('mounted'), 'tmpfs mounted');
    return this;
  }

  /** Run a command inside the namespace. */
  readonly wrap = (argv: string[]): string[] => ['nsenter', '-t', String(this.holder.pid), '-m', '--', ...argv];

  resize(sizeKiB: number): void {
    const r = spawnSync('nsenter', ['-t', String(this.holder.pid), '-m', '--', 'mount', '-o', `remount,size=${sizeKiB}k`, this.dir]);
    if (r.status !== 0) throw new Error(`resize failed: ${r.stderr.toString()}`);
  }

  stop(): void {
    this.holder?.kill('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
