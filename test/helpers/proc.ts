import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'dist/cli/main.js');

export { tempDir } from './temp.js';

/** Wait until `check` returns a truthy value (or resolves to one), polling; throws with `what` on timeout. */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000, everyMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface NodeProcOptions {
  nodeId: string;
  dataDir: string;
  env?: Record<string, string>;
  args?: string[];
  /** Address the test reaches the HTTP API on (default 127.0.0.1; a netns node listens on its veth). */
  httpHost?: string;
  /** Wrap the node command, e.g. ['unshare', '-m', ...]. */
  wrap?: (argv: string[]) => string[];
}

/**
 * A fleetkv node as a real child process (`node dist/cli/main.js start`),
 * listening on loopback ports of its own choosing (port 0), read back from
 * its `ready` log line.
 */
export class NodeProc {
  child!: ChildProcess;
  ports: Record<string, number> = {};
  logs: Record<string, unknown>[] = [];
  stderr = '';
  exitCode: number | null | undefined;
  exitSignal: NodeJS.Signals | null | undefined;
  private exited!: Promise<void>;

  constructor(readonly opts: NodeProcOptions) {}

  get url(): string {
    return `http://${this.opts.httpHost ?? '127.0.0.1'}:${this.ports.http}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Start and wait for the ready line. Rejects with the node's stderr if it exits first. */
  async start(timeoutMs = 20_000): Promise<this> {
    const env = {
      ...process.env,
      FLEETKV_NODE_ID: this.opts.nodeId,
      FLEETKV_DATA_DIR: this.opts.dataDir,
      FLEETKV_HTTP_HOST: this.opts.httpHost ?? '127.0.0.1',
      // A netns node's API listens on the test's own veth, beyond loopback: no token needed there.
      ...(this.opts.httpHost ? { FLEETKV_HTTP_ALLOW_UNAUTHENTICATED: 'true' } : {}),
      FLEETKV_HTTP_PORT: '0',
      FLEETKV_PEER_HOST: '127.0.0.1',
      FLEETKV_PEER_PORT: '0',
      FLEETKV_MQTT_HOST: '127.0.0.1',
      FLEETKV_MQTT_PORT: '0',
      FLEETKV_LOG_PRETTY: '0',
      ...this.opts.env,
    };
    let argv = [process.execPath, CLI, 'start', ...(this.opts.args ?? [])];
    if (this.opts.wrap) argv = this.opts.wrap(argv);
    this.logs = [];
    this.stderr = '';
    this.exitCode = undefined;
    this.exitSignal = undefined;
    this.child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, sig) => {
        this.exitCode = code;
        this.exitSignal = sig;
        resolve();
      }),
    );
    let buf = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          this.logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.logs.push({ msg: line });
        }
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString('utf8');
    });
    const exitedEarly = this.exited.then(() => {
      throw new Error(`node ${this.opts.nodeId} exited (${this.exitCode ?? this.exitSignal}) before ready: ${this.stderr}`);
    });
    const ready = await Promise.race([waitFor(() => this.logs.find((l) => l.event === 'ready'), `node ${this.opts.nodeId} ready`, timeoutMs), exitedEarly]).catch((err: unknown) => {
      if (this.exitCode === undefined) this.child.kill('SIGKILL');
      throw err;
    });
    exitedEarly.catch(() => {}); // the race is decided; a later exit is not an error here
    this.ports = ready.ports as Record<string, number>;
    return this;
  }

  /** Log lines whose msg matches. */
  logsMatching(re: RegExp): Record<string, unknown>[] {
    return this.logs.filter((l) => re.test(String(l.msg ?? '')));
  }

  kill9(): Promise<void> {
    this.child.kill('SIGKILL');
    return this.exited;
  }

  /** SIGTERM and wait for exit; returns the exit code. */
  async stop(): Promise<number | null | undefined> {
    if (this.exitCode === undefined) {
      this.child.kill('SIGTERM');
      await this.exited;
    }
    return this.exitCode;
  }

  waitExit(): Promise<void> {
    return this.exited;
  }

  async fetch(pathname: string, init?: RequestInit): Promise<Response> {
    return fetch(this.url + pathname, init);
  }

  async put(key: string, value: string | Uint8Array): Promise<Response> {
    return this.fetch(`/v1/kv/${key}`, { method: 'PUT', body: value });
  }

  /** The value as text, or undefined for 404. */
  async get(key: string): Promise<string | undefined> {
    const r = await this.fetch(`/v1/kv/${key}`);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`GET ${key}: HTTP ${r.status}`);
    return r.text();
  }

  /** Every live entry under `prefix`, in key order, paging through GET /v1/kv (limit ≤ limits.listMax). */
  async listAll<E extends { key: string }>(prefix = ''): Promise<E[]> {
    const out: E[] = [];
    let after: string | undefined;
    for (;;) {
      const q = `/v1/kv?prefix=${encodeURIComponent(prefix)}&limit=100000${after !== undefined ? `&after=${encodeURIComponent(after)}` : ''}`;
      const r = await this.fetch(q);
      if (r.status !== 200) throw new Error(`GET ${q}: HTTP ${r.status} ${await r.text()}`);
      const page = (await r.json()) as { entries: E[]; next?: string };
      out.push(...page.entries);
      if (page.next === undefined) return out;
      after = page.next;
    }
  }

  async status(): Promise<Record<string, any>> {
    return (await this.fetch('/v1/status')).json() as Promise<Record<string, any>>;
  }
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a program to completion (killed and rejected after `timeoutMs`); resolves with its exit code and output. */
export function runProcess(cmd: string, args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} timed out; stdout: ${stdout} stderr: ${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // a program that exits without reading its input
    child.stdin.end(opts.input ?? '');
  });
}

/** Run the fleetkv CLI to completion. */
export function runCli(args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<ProcessResult> {
  return runProcess(process.execPath, [CLI, ...args], { ...opts, env: { FLEETKV_LOG_PRETTY: '0', ...opts.env } });
}
