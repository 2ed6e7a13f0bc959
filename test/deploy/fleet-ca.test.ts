import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers/proc.js';

const SCRIPT = path.join(ROOT, 'deploy/make-fleet-ca.sh');

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(...args: string[]): string {
  const r = run(...args);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

/** One mutual-TLS handshake: server as `server`, client as `client`; resolves with whether both sides accepted. */
async function handshake(dir: string, server: string, client: string, clientCa = dir): Promise<{ ok: boolean; peerCn?: string }> {
  const read = (d: string, f: string): Buffer => fs.readFileSync(path.join(d, f));
  const srv = tls.createServer({ key: read(dir, `${server}.key`), cert: read(dir, `${server}.crt`), ca: read(dir, 'ca.crt'), requestCert: true, rejectUnauthorized: true }, (s) => {
    s.end('hello');
  });
  srv.on('tlsClientError', () => {});
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    return await new Promise((resolve) => {
      const sock = tls.connect({ host: '127.0.0.1', port: (srv.address() as AddressInfo).port, servername: server, key: read(clientCa, `${client}.key`), cert: read(clientCa, `${client}.crt`), ca: read(dir, 'ca.crt') }, () => {
        sock.once('data', () => {
          resolve({ ok: true, peerCn: String(sock.getPeerCertificate().subject.CN) });
          sock.destroy();
        });
      });
      sock.setNoDelay(true);
      sock.once('error', () => resolve({ ok: false }));
      sock.once('close', () => resolve({ ok: false }));
    });
  } finally {
    srv.close();
  }
}

describe('deploy/make-fleet-ca.sh', () => {
  it('makes a fleet CA and robot certificates that pass mutual TLS; reruns keep them; strangers are refused', async () => {
    const dir = path.join(tempDir(), 'ca');
    expect(ok('--out', dir, 'ca', '--fleet', 'yard')).toContain('made');
    ok('--out', dir, 'robot', 'r1', '--ip', '127.0.0.1', '--dns', 'r1.yard');
    ok('--out', dir, 'robot', 'r2');
    for (const f of ['ca.key', 'r1.key', 'r2.key']) expect((fs.statSync(path.join(dir, f)).mode & 0o777).toString(8), f).toBe('600');
    expect((fs.statSync(path.join(dir, 'r1.crt')).mode & 0o777).toString(8)).toBe('644');

    const cert = new crypto.X509Certificate(fs.readFileSync(path.join(dir, 'r1.crt')));
    expect(cert.subjectAltName).toBe('DNS:r1, DNS:r1.local, DNS:r1.yard, IP Address:127.0.0.1');
    expect(cert.checkIssued(new crypto.X509Certificate(fs.readFileSync(path.join(dir, 'ca.crt'))))).toBe(true);
    expect(cert.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'])); // serverAuth, clientAuth

    const before = fs.readFileSync(path.join(dir, 'r1.crt'));
    expect(ok('--out', dir, 'robot', 'r1')).toContain('kept the existing');
    expect(ok('--out', dir, 'ca')).toContain('kept the existing CA');
    expect(fs.readFileSync(path.join(dir, 'r1.crt'))).toEqual(before);

    expect(await handshake(dir, 'r1', 'r2')).toEqual({ ok: true, peerCn: 'r1' });
    // A robot of another fleet (another CA) is refused.
    const other = path.join(tempDir(), 'other');
    ok('--out', other, 'ca');
    ok('--out', other, 'robot', 'intruder');
    expect((await handshake(dir, 'r1', 'intruder', other)).ok).toBe(false);
  });

  it('refuses a bad robot id, or a robot before the CA, with a clear message', () => {
    const dir = path.join(tempDir(), 'ca');
    expect(run('--out', dir, 'robot', 'r1').stderr).toContain('no CA in');
    ok('--out', dir, 'ca');
    const bad = run('--out', dir, 'robot', 'bad id!');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('robot ID must be a node id');
  });
});
