import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir, waitFor } from '../helpers/proc.js';

/** A process started like a terminal's foreground job: its own process group, stdout collected. */
function startGroup(cmd: string, args: string[], env: Record<string, string>) {
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, sig) => resolve(code ?? (sig ? -1 : null))));
  return {
    child,
    output: () => out,
    exited,
    /** Ctrl-C on a terminal: SIGINT to the whole foreground process group. */
    ctrlC: () => process.kill(-child.pid!, 'SIGINT'),
    kill: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    },
  };
}

const nodeEnv = (dir: string, pretty: '0' | '1'): Record<string, string> => ({
  FLEETKV_NODE_ID: 'ns1',
  FLEETKV_DATA_DIR: dir,
  FLEETKV_HTTP_HOST: '127.0.0.1',
  FLEETKV_HTTP_PORT: '0',
  FLEETKV_PEER_HOST: '127.0.0.1',
  FLEETKV_PEER_PORT: '0',
  FLEETKV_MQTT_HOST: '127.0.0.1',
  FLEETKV_MQTT_PORT: '0',
  FLEETKV_LOG_PRETTY: pretty,
});

describe('npm start', () => {
  it('exits 0 after Ctrl-C, and does not rebuild when the sources have not changed', { timeout: 240_000 }, async () => {
    const dir = path.join(tempDir('fleetkv-npmstart-'), 'data');
    const main = path.join(ROOT, 'dist/cli/main.js');
    for (let run = 0; run < 2; run++) {
      const before = run === 1 ? fs.statSync(main).mtimeMs : undefined;
      const p = startGroup('npm', ['start'], nodeEnv(dir, '0'));
      try {
        await waitFor(() => p.output().includes('"event":"ready"'), `npm start (run ${run + 1}) ready`, 180_000, 100);
        p.ctrlC();
        expect(await p.exited, p.output()).toBe(0);
      } finally {
        p.kill();
      }
      expect(p.output()).toContain('stopped cleanly');
      // The second start found dist/ up to date: nothing was compiled again.
      if (before !== undefined) expect(fs.statSync(main).mtimeMs).toBe(before);
    }
  });
});

describe('logs on a terminal', () => {
  it('pretty logs take one line per event, fields inline', { timeout: 60_000 }, async () => {
    const dir = path.join(tempDir('fleetkv-pretty-'), 'data');
    const p = startGroup(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), 'start'], nodeEnv(dir, '1'));
    try {
      await waitFor(() => p.output().includes(' ready: http://'), 'the ready line', 40_000, 50);
      p.ctrlC();
      expect(await p.exited).toBe(0);
    } finally {
      p.kill();
    }
    const lines = p.output().trimEnd().split('\n');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the terminal's colour escapes
    for (const line of lines) expect(line.replace(/\x1b\[\d+m/g, '')).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN): /);
    const ready = lines.find((l) => l.includes(' ready: http://'))!;
    expect(ready).toMatch(/"ports":\{"http":\d+,"peer":\d+,"mqtt":\d+\}/);
    expect(lines.some((l) => l.includes('stopped cleanly'))).toBe(true);
  });
});
