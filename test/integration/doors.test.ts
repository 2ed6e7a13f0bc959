import fs from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/http/auth.js';
import { NetNs, canNetns } from '../helpers/netns.js';
import { NodeProc, runCli, runProcess, tempDir } from '../helpers/proc.js';

const ADMIN = 'admin-token-d4c1f0e9a8';
const READER = 'reader-token-77aa31';
const R1 = 'r1-writer-token-5e2b';
const FLEET_SECRET = 'fleet-secret-9f8e7d6c';
const UPLINK_PASSWORD = 'uplink-password-1a2b3c';

const bearer = (t: string): RequestInit => ({ headers: { authorization: `Bearer ${t}` } });

/** The locked front doors: HTTP bearer tokens with key prefixes, refused starts, secrets kept out of sight. */
describe('HTTP tokens on a running node', () => {
  const dir = tempDir('fleetkv-doors-');
  let node: NodeProc;
  beforeAll(async () => {
    const config = path.join(dir, 'fleetkv.json');
    fs.writeFileSync(
      config,
      JSON.stringify({
        http: {
          tokens: {
            dashboard: { hash: hashToken(READER), read: ['robots/'] },
            r1: { hash: hashToken(R1), read: ['robots/'], write: ['robots/r1/'] },
          },
        },
        // A closed port: the uplink retries and logs, and must never log its password.
        uplink: { enabled: true, url: 'mqtt://127.0.0.1:1', username: 'fleet', reconnectPeriod: '200ms' },
      }),
    );
    node = await new NodeProc({
      nodeId: 'door1',
      dataDir: path.join(dir, 'data'),
      env: { FLEETKV_CONFIG: config, FLEETKV_HTTP_TOKEN: ADMIN, FLEETKV_FLEET_SECRET: FLEET_SECRET, FLEETKV_UPLINK_PASSWORD: UPLINK_PASSWORD },
    }).start();
  });
  afterAll(async () => {
    await node.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers /healthz and /readyz without a token, everything else only with one', async () => {
    expect((await node.fetch('/healthz')).status).toBe(200);
    expect((await node.fetch('/readyz')).status).toBe(200);
    for (const p of ['/v1/status', '/metrics', '/v1/kv?prefix=', '/v1/kv/robots/r1/pose', '/no/such/route']) {
      const r = await node.fetch(p);
      expect(r.status, p).toBe(401);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
    }
    const wrong = await node.fetch('/v1/status', bearer('not-a-token'));
    expect(wrong.status).toBe(401);
    expect((await node.fetch('/v1/status', bearer(ADMIN))).status).toBe(200);
  });

  it('refuses a write without a token and stores nothing', async () => {
    const r = await node.fetch('/v1/kv/robots/r1/pose', { method: 'PUT', body: 'sneaky' });
    expect(r.status).toBe(401);
    expect((await node.fetch('/v1/kv/robots/r1/pose', bearer(ADMIN))).status).toBe(404);
  });

  it('limits a token to its read and write prefixes', async () => {
    const put = (token: string, key: string, value: string): Promise<Response> => node.fetch(`/v1/kv/${key}`, { method: 'PUT', body: value, ...bearer(token) });
    expect((await put(R1, 'robots/r1/pose', '{"x":1}')).status).toBe(200);
    const other = await put(R1, 'robots/r2/pose', '{"x":2}');
    expect(other.status).toBe(403);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN');
    expect((await put(READER, 'robots/r1/pose', 'x')).status).toBe(403);
    expect((await put(ADMIN, 'missions/m1', 'go')).status).toBe(200);

    expect(await (await node.fetch('/v1/kv/robots/r1/pose', bearer(READER))).text()).toBe('{"x":1}');
    expect((await node.fetch('/v1/kv/missions/m1', bearer(READER))).status).toBe(403);
    expect((await node.fetch('/v1/kv?prefix=robots/', bearer(READER))).status).toBe(200);
    expect((await node.fetch('/v1/kv?prefix=', bearer(READER))).status).toBe(403);
    expect((await node.fetch('/v1/watch?prefix=missions/', bearer(READER))).status).toBe(403);
    expect((await node.fetch('/v1/admin/compact', { method: 'POST', ...bearer(R1) })).status).toBe(403);
    expect((await node.fetch('/v1/admin/compact', { method: 'POST', ...bearer(ADMIN) })).status).toBe(200);
    // Nothing refused cost data.
    expect(await (await node.fetch('/v1/kv/robots/r1/pose', bearer(ADMIN))).text()).toBe('{"x":1}');
    expect((await node.fetch('/v1/kv/robots/r2/pose', bearer(ADMIN))).status).toBe(404);
  });

  it('the fleet page can send its token as a cookie (EventSource cannot send headers)', async () => {
    const r = await node.fetch('/v1/kv/robots/r1/pose', { headers: { cookie: `other=1; fleetkv_token=${encodeURIComponent(READER)}` } });
    expect(r.status).toBe(200);
  });

  it('the CLI sends FLEETKV_HTTP_TOKEN and prints the code when it has none', async () => {
    const ok = await runCli(['--url', node.url, 'get', 'robots/r1/pose'], { env: { FLEETKV_HTTP_TOKEN: READER } });
    expect(ok.stdout.trim()).toBe('{"x":1}');
    expect(ok.code).toBe(0);
    const refused = await runCli(['--url', node.url, 'get', 'robots/r1/pose'], { env: { FLEETKV_HTTP_TOKEN: '' } });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/token/i);
  });

  it('keeps every secret out of logs, status and metrics', async () => {
    // Let the uplink fail to connect a few times (it logs each attempt).
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 10_000;
      const tick = (): void => {
        if (node.logs.filter((l) => /uplink/i.test(String(l.msg))).length >= 2) return resolve();
        if (Date.now() > deadline) return reject(new Error('no uplink log lines'));
        setTimeout(tick, 50);
      };
      tick();
    });
    const status = await (await node.fetch('/v1/status', bearer(ADMIN))).text();
    const metrics = await (await node.fetch('/metrics', bearer(ADMIN))).text();
    const logs = JSON.stringify(node.logs) + node.stderr;
    for (const secret of [ADMIN, READER, R1, FLEET_SECRET, UPLINK_PASSWORD]) {
      expect(status).not.toContain(secret);
      expect(metrics).not.toContain(secret);
      expect(logs).not.toContain(secret);
    }
  });
});

describe('refused starts', () => {
  it('refuses HTTP beyond loopback without a token (exit 78, names the fix)', async () => {
    const dir = tempDir('fleetkv-doors-');
    try {
      const r = await runCli(['start', '--node-id', 'open1', '--data-dir', dir, '--http-host', '0.0.0.0', '--http-port', '0', '--peer-port', '0', '--mqtt-port', '0']);
      expect(r.code).toBe(78);
      expect(r.stderr).toMatch(/FLEETKV_HTTP_TOKEN/);
      expect(r.stderr).toMatch(/http\.allowUnauthenticated/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a token entry that is not a sha256 hash (a plain token in a config file)', async () => {
    const dir = tempDir('fleetkv-doors-');
    try {
      const config = path.join(dir, 'c.json');
      fs.writeFileSync(config, JSON.stringify({ http: { tokens: { x: { hash: 'plain-token' } } } }));
      const r = await runCli(['start', '--config', config, '--node-id', 'open2', '--data-dir', path.join(dir, 'd'), '--http-port', '0', '--peer-port', '0', '--mqtt-port', '0']);
      expect(r.code).toBe(78);
      expect(r.stderr).toMatch(/http\.tokens\.x/);
      expect(r.stderr).not.toContain('plain-token');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fleetkv token prints a token and the config entry holding only its hash', async () => {
    const r = await runCli(['token', 'dash', '--read', 'robots/']);
    expect(r.code).toBe(0);
    const token = /^token: (\S+)$/m.exec(r.stdout)![1]!;
    const cfg = JSON.parse(/^config: (.*)$/m.exec(r.stdout)![1]!) as { http: { tokens: { dash: { hash: string; read: string[] } } } };
    expect(cfg.http.tokens.dash).toEqual({ hash: hashToken(token), read: ['robots/'], write: [] });
    expect(/^config: .*$/m.exec(r.stdout)![0]).not.toContain(token);
  });
});

/**
 * From a second address: the node runs in a network namespace of the test's
 * own; the test connects from outside it, over the veth (not loopback), and
 * from inside it, over the namespace's loopback.
 */
describe.skipIf(!canNetns)('protected mode seen from another machine', () => {
  const net = new NetNs();
  const dir = tempDir('fleetkv-doors-');
  const nodes: NodeProc[] = [];
  beforeAll(() => {
    net.start();
  });
  afterAll(async () => {
    for (const n of nodes) await n.stop();
    net.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = async (id: string, env: Record<string, string>): Promise<NodeProc> => {
    const n = new NodeProc({ nodeId: id, dataDir: path.join(dir, id), httpHost: net.address, wrap: net.wrap, env: { FLEETKV_MQTT_HOST: '0.0.0.0', FLEETKV_HTTP_TOKEN: ADMIN, ...env } });
    nodes.push(n);
    return n.start();
  };
  const connect = (host: string, port: number): Promise<'connected' | string> =>
    new Promise((resolve) => {
      const c = mqtt.connect({ host, port, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
      c.once('connect', () => void c.endAsync().then(() => resolve('connected')));
      c.once('error', (err) => {
        c.end(true);
        resolve((err as Error & { code?: number }).code === 5 ? 'not authorized' : err.message);
      });
    });

  it('MQTT without authentication takes clients on the robot itself only; the node says so and keeps serving', async () => {
    const n = await start('pm1', {});
    expect(n.logsMatching(/protected mode/).length).toBeGreaterThan(0);
    expect(await connect(net.address, n.ports.mqtt!)).toBe('not authorized');
    // The same broker, from inside the namespace (its loopback): a local client is let in.
    const local = await runProcess('ip', ['netns', 'exec', net.name, 'mosquitto_pub', '-h', '127.0.0.1', '-p', String(n.ports.mqtt), '-t', 'fleet/set/robots/r9/status', '-m', 'idle', '-q', '1']);
    expect(local.code, local.stderr).toBe(0);
    const r = await fetch(`${n.url}/v1/kv/robots/r9/status`, bearer(ADMIN));
    expect(await r.text()).toBe('idle');
    expect(n.logsMatching(/refused a client from another machine/).length).toBeGreaterThan(0);
    // mosquitto_sub from outside gets the refusal too.
    const sub = await runProcess('mosquitto_sub', ['-h', net.address, '-p', String(n.ports.mqtt), '-t', 'fleet/#', '-C', '1', '-W', '3']);
    expect(sub.code).not.toBe(0);
    expect(sub.stderr).toMatch(/not authori[sz]ed/i);
    // HTTP from outside: the token is required there too.
    expect((await fetch(`${n.url}/v1/status`)).status).toBe(401);
  });

  it('mqtt.allowAnonymous lets other machines in, with a warning', async () => {
    const n = await start('pm2', { FLEETKV_MQTT_ALLOW_ANONYMOUS: 'true' });
    expect(await connect(net.address, n.ports.mqtt!)).toBe('connected');
    expect(n.logsMatching(/anyone who can reach/).length).toBeGreaterThan(0);
  });
});
