import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProc, ROOT, tempDir } from '../helpers/proc.js';

/**
 * The release as a robot gets it: `npm run package`'s tarball, unpacked in a
 * fresh directory or installed by deploy/install.sh into a throw-away root.
 */
const work = tempDir('fleetkv-release-');
let tarball = '';
let version = '';
let unpacked = '';

function sh(cmd: string, args: string[], opts: { cwd?: string } = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd ?? ROOT, env: { ...process.env, FLEETKV_RELEASE_DIR: path.join(work, 'out') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function install(root: string, ...args: string[]): string {
  const r = sh('bash', [path.join(ROOT, 'deploy/install.sh'), '--root', root, '--node', process.execPath, ...args]);
  expect(r.stderr, r.stdout).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

function mode(p: string): string {
  return (fs.statSync(p).mode & 0o7777).toString(8).padStart(4, '0');
}

/** A target root with the account files useradd --prefix needs. */
function targetRoot(): string {
  const root = fs.mkdtempSync(path.join(work, 'root-'));
  fs.mkdirSync(path.join(root, 'etc'));
  fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\n');
  fs.writeFileSync(path.join(root, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o640 });
  fs.writeFileSync(path.join(root, 'etc/gshadow'), 'root:*::\n', { mode: 0o640 });
  return root;
}

function unpack(into: string): string {
  fs.mkdirSync(into, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', into]);
  return path.join(into, `fleetkv-${version}`);
}

beforeAll(() => {
  version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const r = sh('bash', ['deploy/package.sh']);
  expect(r.code, r.stderr).toBe(0);
  tarball = path.resolve(ROOT, r.stdout.trim().split('\n').at(-1)!);
  expect(fs.existsSync(tarball)).toBe(true);
  unpacked = unpack(path.join(work, 'fresh'));
}, 120_000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('release tarball', () => {
  it('unpacked into a fresh directory, starts a node that answers /healthz without any dev dependency', async () => {
    const rel = unpacked;
    for (const dev of ['typescript', 'tsx', 'fast-check', 'vitest', '@vitest/runner', 'puppeteer-core']) expect(fs.existsSync(path.join(rel, 'node_modules', dev)), dev).toBe(false);
    for (const f of ['node_modules/aedes', 'node_modules/pino', 'systemd/fleetkv.service', 'deploy/install.sh', 'release.json']) expect(fs.existsSync(path.join(rel, f)), f).toBe(true);
    // Nothing above the fresh directory may lend it modules.
    expect(fs.existsSync(path.join(path.dirname(work), 'node_modules'))).toBe(false);
    const node = await new NodeProc({ nodeId: 'rel1', dataDir: path.join(work, 'fresh-data'), wrap: (argv) => [argv[0]!, path.join(rel, 'dist/cli/main.js'), ...argv.slice(2)] }).start();
    try {
      const h = await node.fetch('/healthz');
      expect(h.status).toBe(200);
      expect(((await node.status()) as { version: string }).version).toBe(version);
      expect((await node.put('robots/r1/pose', '{"x":1}')).status).toBe(200);
      expect(await node.get('robots/r1/pose')).toBe('{"x":1}');
      // The fleet page ships in the tarball (dist/http/ui, copied by the build).
      for (const f of ['/ui/', '/ui/app.js', '/ui/style.css']) expect((await node.fetch(f)).status, f).toBe(200);
    } finally {
      expect(await node.stop()).toBe(0);
    }
  });
});

describe('deploy/install.sh --root', () => {
  it('lays out the expected files and modes (a unit that passes systemd-analyze verify, a config that starts), twice in a row; --uninstall keeps config and data; --purge removes them', async () => {
    const root = targetRoot();
    const at = (p: string): string => path.join(root, p);
    const first = install(root, '--from', tarball, '--node-id', 'robot-7', '--fleet-id', 'yard', '--peers', '10.0.0.2:7400,10.0.0.3:7400');
    expect(first).toContain('generated a new fleet secret');
    const check = (): void => {
      expect(fs.readlinkSync(at('opt/fleetkv/current'))).toBe(`releases/${version}`);
      expect(mode(at(`opt/fleetkv/releases/${version}/dist/cli/main.js`))).toBe('0755');
      expect(mode(at('etc/systemd/system/fleetkv.service'))).toBe('0644');
      expect(fs.readlinkSync(at('etc/systemd/system/multi-user.target.wants/fleetkv.service'))).toBe('/etc/systemd/system/fleetkv.service');
      expect(fs.readFileSync(at('etc/systemd/system/fleetkv.service'), 'utf8')).toContain(`ExecStart=${process.execPath} /opt/fleetkv/current/dist/cli/main.js start --config /etc/fleetkv/fleetkv.json`);
      expect(mode(at('etc/fleetkv'))).toBe('0750');
      expect(mode(at('etc/fleetkv/fleetkv.json'))).toBe('0640');
      expect(mode(at('var/lib/fleetkv'))).toBe('0750');
      expect(mode(at('usr/local/bin/fleetkv'))).toBe('0755');
      expect(fs.readFileSync(at('usr/local/bin/fleetkv'), 'utf8')).toContain(`exec ${process.execPath} /opt/fleetkv/current/dist/cli/main.js "$@"`);
    };
    check();
    const config = JSON.parse(fs.readFileSync(at('etc/fleetkv/fleetkv.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ nodeId: 'robot-7', fleetId: 'yard', dataDir: '/var/lib/fleetkv', peers: ['10.0.0.2:7400', '10.0.0.3:7400'] });
    expect(config.fleetSecret).toMatch(/^[0-9a-f]{64}$/);
    if (process.getuid?.() === 0) {
      const user = fs
        .readFileSync(at('etc/passwd'), 'utf8')
        .split('\n')
        .find((l) => l.startsWith('fleetkv:'));
      expect(user).toMatch(/^fleetkv:x:\d+:\d+:fleetkv service:\/var\/lib\/fleetkv:\/usr\/sbin\/nologin$/);
      const [, , uid, gid] = user!.split(':');
      expect(fs.statSync(at('var/lib/fleetkv')).uid).toBe(Number(uid));
      expect(fs.statSync(at('etc/fleetkv/fleetkv.json')).gid).toBe(Number(gid));
      expect(fs.statSync(at('etc/fleetkv/fleetkv.json')).uid).toBe(0);
    } else {
      expect(first).toContain('not root: not creating user fleetkv');
    }
    const configBytes = fs.readFileSync(at('etc/fleetkv/fleetkv.json'));
    await checkUnit(at('etc/systemd/system/fleetkv.service'));
    await startInstalled(root);
    fs.writeFileSync(at('var/lib/fleetkv/node.json'), '{"kept":true}');

    const second = install(root, '--from', unpacked, '--node-id', 'other');
    expect(second).toContain('kept the existing config');
    check();
    expect(fs.readFileSync(at('etc/fleetkv/fleetkv.json'))).toEqual(configBytes);
    expect(fs.readFileSync(at('etc/passwd'), 'utf8').match(/^fleetkv:/gm)?.length ?? 0).toBe(process.getuid?.() === 0 ? 1 : 0);

    install(root, '--uninstall');
    for (const gone of ['opt/fleetkv', 'etc/systemd/system/fleetkv.service', 'etc/systemd/system/multi-user.target.wants/fleetkv.service', 'usr/local/bin/fleetkv']) {
      expect(fs.existsSync(at(gone)), gone).toBe(false);
    }
    expect(fs.readFileSync(at('etc/fleetkv/fleetkv.json'))).toEqual(configBytes);
    expect(fs.readFileSync(at('var/lib/fleetkv/node.json'), 'utf8')).toBe('{"kept":true}');

    install(root, '--uninstall', '--purge');
    expect(fs.existsSync(at('etc/fleetkv'))).toBe(false);
    expect(fs.existsSync(at('var/lib/fleetkv'))).toBe(false);
    expect(fs.readFileSync(at('etc/passwd'), 'utf8')).not.toContain('fleetkv');
    expect(fs.readFileSync(at('etc/group'), 'utf8')).not.toContain('fleetkv');
  });

  it('upgrades switch `current`, keep `previous` for rollback, prune older releases and keep config and data', () => {
    const root = targetRoot();
    const at = (p: string): string => path.join(root, p);
    // Small stand-in releases: the installer's upgrade logic, not the app, is under test here.
    const withVersion = (v: string): string => {
      const dir = path.join(work, `release-${v}`);
      for (const d of ['dist/cli', 'node_modules', 'systemd']) fs.mkdirSync(path.join(dir, d), { recursive: true });
      fs.writeFileSync(path.join(dir, 'dist/cli/main.js'), `// fleetkv ${v}\n`);
      fs.copyFileSync(path.join(ROOT, 'systemd/fleetkv.service'), path.join(dir, 'systemd/fleetkv.service'));
      fs.writeFileSync(path.join(dir, 'release.json'), JSON.stringify({ name: 'fleetkv', version: v }));
      return dir;
    };
    install(root, '--from', withVersion(version), '--node-id', 'r2', '--no-start');
    const configBytes = fs.readFileSync(at('etc/fleetkv/fleetkv.json'));
    fs.writeFileSync(at('var/lib/fleetkv/00000000000000000001.seg'), 'log');
    const out = install(root, '--from', withVersion('99.0.0'));
    expect(out).toContain(`upgrading from ${version}`);
    expect(fs.readlinkSync(at('opt/fleetkv/current'))).toBe('releases/99.0.0');
    expect(fs.readlinkSync(at('opt/fleetkv/previous'))).toBe(`releases/${version}`);
    install(root, '--from', withVersion('99.1.0'));
    expect(fs.readdirSync(at('opt/fleetkv/releases')).sort()).toEqual(['99.0.0', '99.1.0']);
    expect(fs.readFileSync(at('etc/fleetkv/fleetkv.json'))).toEqual(configBytes);
    expect(fs.readFileSync(at('var/lib/fleetkv/00000000000000000001.seg'), 'utf8')).toBe('log');
  });

  it('refuses what is not a release, with a clear message', () => {
    const r = sh('bash', [path.join(ROOT, 'deploy/install.sh'), '--root', targetRoot(), '--from', path.join(ROOT, 'src')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not a fleetkv release \(no release\.json\): build one with npm run package/);
  });
});

/**
 * systemd-analyze verify needs ExecStart's binary to exist, so it checks the
 * unit as install.sh writes it (ExecStart pointing at this machine's node).
 * It exits 0 even for unknown or malformed settings and only warns on stderr:
 * the test demands an empty stderr.
 */
function verify(unitFile: string): { code: number | null; stderr: string } {
  const r = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8' });
  if (r.error) throw new Error(`systemd-analyze is missing (apt-get install systemd): ${r.error.message}`);
  return { code: r.status, stderr: r.stderr };
}

async function checkUnit(unit: string): Promise<void> {
  expect(verify(unit)).toEqual({ code: 0, stderr: '' });
  const text = fs.readFileSync(unit, 'utf8');
  for (const want of [
    'Type=notify',
    'NotifyAccess=all',
    'WatchdogSec=',
    'User=fleetkv',
    'StateDirectory=fleetkv',
    'Restart=on-failure',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'RestrictAddressFamilies=',
    'TimeoutStopSec=',
  ]) {
    expect(text, want).toContain(want);
  }
  const bad = path.join(fs.mkdtempSync(path.join(work, 'bad-')), 'fleetkv.service');
  fs.writeFileSync(bad, text.replace('NoNewPrivileges=yes', 'NoNewPrivileges=perhaps'));
  expect(verify(bad).stderr).toMatch(/Failed to parse boolean value/);
}

/** The installed tree and starter config run a node (data dir redirected into the temp root by env). */
async function startInstalled(root: string): Promise<void> {
  const main = path.join(root, 'opt/fleetkv/current/dist/cli/main.js');
  const node = await new NodeProc({
    nodeId: 'robot-7',
    dataDir: path.join(root, 'var/lib/fleetkv'),
    wrap: (argv) => [argv[0]!, main, 'start', '--config', path.join(root, 'etc/fleetkv/fleetkv.json')],
  }).start();
  expect((await node.fetch('/healthz')).status).toBe(200);
  expect(await node.stop()).toBe(0);
}
