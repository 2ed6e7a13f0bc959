import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, NodeProc, runCli, runProcess, tempDir } from '../helpers/proc.js';

/**
 * What a newcomer sees when something is off: each message names the
 * problem and its stable code, and usage errors exit 64 in every command.
 */
describe('CLI messages and exit codes', () => {
  const dir = tempDir('fleetkv-cli-');
  let node: NodeProc;
  beforeAll(async () => {
    node = await new NodeProc({ nodeId: 'c1', dataDir: path.join(dir, 'c1'), env: { FLEETKV_MQTT_ENABLED: 'false' } }).start();
  });
  afterAll(async () => {
    await node?.stop();
  });

  it('prints the stable error code beside the message', async () => {
    const bad = await runCli(['put', 'a#b', 'v'], { env: { FLEETKV_URL: node.url } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^fleetkv: .*'#'.* \[KEY_INVALID\]\n$/);
    const missing = await runCli(['get', 'nothing/here'], { env: { FLEETKV_URL: node.url } });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('[NOT_FOUND]');
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const down = await runCli(['get', 'x'], { env: { FLEETKV_URL: `http://127.0.0.1:${port}` } });
    expect(down.code).toBe(69);
    expect(down.stderr).toContain('(ECONNREFUSED)');
    expect(down.stderr).toContain('[UNAVAILABLE]');
  });

  it('--url without a scheme is a usage error that suggests http://, not "cannot reach"', async () => {
    const hostPort = node.url.replace('http://', '');
    const r = await runCli(['--url', hostPort, 'get', 'x']);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain(`"${hostPort}" is not an http:// or https:// URL; did you mean http://${hostPort}?`);
    expect(r.stderr).not.toContain('cannot reach');
    const env = await runCli(['get', 'x'], { env: { FLEETKV_URL: 'localhost:7480' } });
    expect(env.code).toBe(64);
    expect(env.stderr).toContain('did you mean http://localhost:7480?');
  });

  it('usage errors exit 64 in every command', async () => {
    const results = await Promise.all([
      runCli(['frobnicate']),
      runCli(['put']),
      runCli(['sim', '--nodes', 'lots']),
      runCli(['restore', path.join(dir, 'none.snap')]), // a missing file is not a usage error
      runCli(['restore', CLI, '--incarnation', 'x', '--data-dir', path.join(dir, 'r')]),
      runCli(['passwd', 'has space'], { input: 'pw\n' }),
    ]);
    expect(results.map((r) => r.code)).toEqual([64, 64, 64, 3, 64, 64]);
    expect(results[4]!.stderr).toContain('--incarnation must be a positive integer [USAGE]');
    const help = await runCli(['--help']);
    expect(help.stdout).toContain('64 usage');
  });

  it('put without a value on a terminal refuses at once instead of waiting for input', async () => {
    // `script` gives the command a pseudo-terminal as stdin.
    const cmd = `${process.execPath} ${CLI} --url ${node.url} put tty/k`;
    const r = await runProcess('script', ['-qec', cmd, '/dev/null'], { timeoutMs: 15_000 });
    expect(r.code).toBe(64);
    expect(r.stdout).toContain('no value for tty/k');
    expect(r.stdout).toContain('[USAGE]');
    expect(await node.get('tty/k')).toBeUndefined();
    // Piped input still works.
    expect((await runCli(['put', 'tty/k'], { env: { FLEETKV_URL: node.url }, input: 'piped' })).code).toBe(0);
    expect(await node.get('tty/k')).toBe('piped');
  });

  it('the shell parses quoted words and says how in help', async () => {
    const input = ['put "a b" "hello world"', "put 'it''s' 'single \"quoted\"'", 'put plain two  words', 'put esc\\ aped "say \\"hi\\""', 'get "a b"', 'put "unclosed value', 'help', 'exit', ''].join('\n');
    const r = await runCli(['shell'], { env: { FLEETKV_URL: node.url }, input });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Stored a b=hello world');
    expect(r.stdout).toContain('Value: hello world');
    expect(r.stdout).toContain('Error (USAGE): unclosed " quote');
    expect(r.stdout).toContain('put robots/r1/note "hello world"');
    expect(await node.get('a%20b')).toBe('hello world');
    expect(await node.get('its')).toBe('single "quoted"');
    expect(await node.get('plain')).toBe('two words');
    expect(await node.get('esc%20aped')).toBe('say "hi"');
    expect(await node.get('%22a')).toBeUndefined();
  });

  it("start --help shows each flag's default", async () => {
    const r = await runCli(['start', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--http-port <value>[^-]*default:\s+7480\)/);
    expect(r.stdout).toMatch(/--fsync <value>[^-]*default:\s+batch\)/);
    expect(r.stdout).toMatch(/--mqtt-port <value>[^-]*default:\s+1883\)/);
  });
});

describe('config and start-up messages', () => {
  const dir = tempDir('fleetkv-cfgmsg-');
  const start = (args: string[], env: Record<string, string> = {}) =>
    runCli(['start', '--node-id', 'm1', '--data-dir', path.join(dir, 'd'), '--http-host', '127.0.0.1', '--http-port', '0', '--peer-host', '127.0.0.1', '--peer-port', '0', '--mqtt-host', '127.0.0.1', '--mqtt-port', '0', ...args], { env });

  it('a port "abc" is "not a port number", not "out of range"', async () => {
    const file = path.join(dir, 'port.json');
    fs.writeFileSync(file, '{"http": {"port": "abc"}}\n');
    const fromFile = await runCli(['start', '--config', file, '--data-dir', path.join(dir, 'd')]);
    expect(fromFile.code).toBe(78);
    expect(fromFile.stderr).toContain('http.port: must be a port number (0–65535; 0 = any free port): value was "abc"');
    expect(fromFile.stderr).not.toContain('range');
    const big = await start(['--http-port', '70000']);
    expect(big.code).toBe(78);
    expect(big.stderr).toContain('http.port: must be a port number from 0 to 65535');
  });

  it('a config file with bad JSON is named, with line and column', async () => {
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, '{\n  "fleetId": "a",\n  "http": { "port": 7480, }\n}\n');
    const r = await runCli(['start', '--config', file]);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(`config file ${file}:3:27 is not valid JSON`);
    expect(r.stderr).toContain('[CONFIG_INVALID]');
  });

  it('a port in use says which flag, env and key change it', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const mqtt = await start(['--mqtt-port', String(port)]);
      expect(mqtt.code).not.toBe(0);
      expect(mqtt.stderr).toContain(`mqtt listener on 127.0.0.1:${port}: listen EADDRINUSE`);
      expect(mqtt.stderr).toContain('pick another port with --mqtt-port, FLEETKV_MQTT_PORT or mqtt.port in the config file');
      const httpPort = await start(['--http-port', String(port)]);
      expect(httpPort.stderr).toContain('pick another port with --http-port, FLEETKV_HTTP_PORT or http.port in the config file');
      const peer = await start(['--peer-port', String(port)]);
      expect(peer.stderr).toContain('pick another port with --peer-port, FLEETKV_PEER_PORT or peer.port in the config file');
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });
});
