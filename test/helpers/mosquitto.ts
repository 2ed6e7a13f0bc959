import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { runProcess, waitFor } from './proc.js';

/** A free loopback port, for a program that cannot listen on port 0 and report it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A real Mosquitto 2 broker (Debian's `mosquitto`) on 127.0.0.1, with one
 * password user, no persistence: a restart forgets every retained message,
 * as a cloud broker that lost its disk would.
 */
export class Mosquitto {
  port = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    readonly user: string,
    readonly password: string,
  ) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    fs.mkdirSync(this.dir, { recursive: true });
    const passwd = path.join(this.dir, 'passwd');
    if (!fs.existsSync(passwd)) {
      const r = await runProcess('mosquitto_passwd', ['-b', '-c', passwd, this.user, this.password]);
      if (r.code !== 0) throw new Error(`mosquitto_passwd: ${r.stderr}`);
    }
    if (this.port === 0) this.port = await freePort();
    const conf = path.join(this.dir, 'mosquitto.conf');
    fs.writeFileSync(
      conf,
      [
        `listener ${this.port} 127.0.0.1`,
        'allow_anonymous false',
        `password_file ${passwd}`,
        'persistence false',
        'log_dest stderr',
        // As root, mosquitto would switch to its own user, who cannot read the test's 0700 temp dir.
        ...(process.getuid?.() === 0 ? ['user root'] : []),
        '',
      ].join('\n'),
    );
    const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          if (child.exitCode !== null) throw new Error(`mosquitto exited: ${stderr}`);
          const s = net.connect(this.port, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          });
          s.once('error', () => resolve(false));
        }),
      `mosquitto on port ${this.port}`,
    );
    return this;
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null) {
      this.child.kill('SIGTERM');
      await this.exited;
    }
  }
}
