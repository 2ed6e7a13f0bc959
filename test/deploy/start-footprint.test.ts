import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, NodeProc, runCli, tempDir, waitFor } from '../helpers/proc.js';

/**
 * What the resident `fleetkv start` process loads (issue 10, F1): neither
 * commander nor any client command (src/cli/start.ts), and no pino transport
 * worker (pino-pretty) when stdout is not a terminal. Real processes; module
 * loads are seen through a resolve hook (`node --import`), the worker thread
 * through /proc/<pid>/task.
 */
const dir = tempDir('fleetkv-startfp-');
const hooks = path.join(dir, 'hooks.mjs');
const register = path.join(dir, 'register.mjs');
fs.writeFileSync(hooks, "import fs from 'node:fs';\nexport async function resolve(s, c, next) { const r = await next(s, c); fs.appendFileSync(process.env.LOADED_FILE, r.url + '\\n'); return r; }\n");
fs.writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);

const nodes: NodeProc[] = [];
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop().catch(() => n.kill9())));
});

async function started(name: string, env: Record<string, string>): Promise<{ node: NodeProc; loaded: () => string[]; threads: () => number }> {
  const loadedFile = path.join(dir, `${name}.loaded`);
  const node = new NodeProc({ nodeId: name, dataDir: path.join(dir, name), env: { LOADED_FILE: loadedFile, FLEETKV_MQTT_ENABLED: 'false', ...env }, wrap: (argv) => [argv[0]!, '--import', register, ...argv.slice(1)] });
  nodes.push(node);
  await node.start();
  return { node, loaded: () => fs.readFileSync(loadedFile, 'utf8').split('\n'), threads: () => fs.readdirSync(`/proc/${node.pid}/task`).length };
}

describe('the fleetkv start process', () => {
  it('loads neither commander nor the client commands', { timeout: 60_000 }, async () => {
    const { loaded } = await started('fp1', {});
    const urls = loaded();
    expect(urls.some((u) => u.endsWith('/dist/cli/start.js'))).toBe(true);
    expect(urls.some((u) => u.endsWith('/dist/daemon.js'))).toBe(true);
    expect(urls.filter((u) => /\/node_modules\/commander\/|\/dist\/cli\/(program|client|shell|ops|robots|watch|sim)\.js$/.test(u))).toEqual([]);
  });

  it('starts no log transport worker when stdout is not a terminal, and one when pretty logs are forced', { timeout: 60_000 }, async () => {
    // FLEETKV_LOG_PRETTY unset: the choice is made from stdout, a pipe here (as under systemd).
    const piped = await started('fp2', { FLEETKV_LOG_PRETTY: undefined as unknown as string });
    expect(piped.loaded().filter((u) => /pino-pretty|thread-stream/.test(u))).toEqual([]);
    // The same start with pretty logs forced: pino's transport runs in a worker thread.
    const env = {
      ...process.env,
      FLEETKV_NODE_ID: 'fp3',
      FLEETKV_DATA_DIR: path.join(dir, 'fp3'),
      FLEETKV_HTTP_HOST: '127.0.0.1',
      FLEETKV_HTTP_PORT: '0',
      FLEETKV_PEER_HOST: '127.0.0.1',
      FLEETKV_PEER_PORT: '0',
      FLEETKV_MQTT_ENABLED: 'false',
      FLEETKV_LOG_PRETTY: '1',
      LOADED_FILE: path.join(dir, 'fp3.loaded'),
    };
    const pretty = spawn(process.execPath, ['--import', register, CLI, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      pretty.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor(() => out.includes(' ready: http://'), 'the pretty node ready', 40_000, 50);
      const prettyThreads = fs.readdirSync(`/proc/${pretty.pid}/task`).length;
      expect(piped.threads()).toBeLessThan(prettyThreads);
    } finally {
      const exited = new Promise((r) => pretty.once('exit', r));
      pretty.kill('SIGTERM');
      await exited;
    }
  });

  it('refuses an unknown flag, a flag without its value and a stray argument as usage errors (exit 64)', async () => {
    const unknown = await runCli(['start', '--no-such-flag', 'x']);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain("error: unknown option '--no-such-flag'");
    const missing = await runCli(['start', '--http-port']);
    expect(missing.code).toBe(64);
    expect(missing.stderr).toContain("option '--http-port <value>' argument missing");
    const stray = await runCli(['start', 'extra']);
    expect(stray.code).toBe(64);
    expect(stray.stderr).toContain('too many arguments');
  });
});
