import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT, waitFor } from '../helpers/proc.js';

/**
 * A NOTIFY_SOCKET of the test's own (Node has no unix datagram sockets, so a
 * small python3 listener binds it) collecting every message systemd would get.
 */
export class NotifySocket {
  readonly messages: string[] = [];
  private child!: ChildProcess;

  constructor(readonly path: string) {}

  async open(): Promise<this> {
    this.child = spawn('python3', [path.join(ROOT, 'test/deploy/fixtures/notify-listener.py'), this.path], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.messages.push(JSON.parse(buf.slice(0, i)) as string);
        buf = buf.slice(i + 1);
      }
    });
    await waitFor(() => this.messages.includes('LISTENING'), 'notify listener', 10_000);
    return this;
  }

  /** Messages holding `field` (e.g. "READY=1") as one of their lines. */
  with(field: string): string[] {
    return this.messages.filter((m) => m.split('\n').includes(field));
  }

  close(): void {
    this.child.kill('SIGTERM');
  }
}
