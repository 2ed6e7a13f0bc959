import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tempDir, waitFor, type NodeProc } from '../helpers/proc.js';
import { peerAddress, startNode, stopAll } from './fleet.js';

const dir = tempDir('fleetkv-tls-');
const nodes: NodeProc[] = [];
afterAll(() => stopAll(nodes));

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** A CA, and a certificate signed by it for each name. */
function makeCa(ca: string, names: string[]): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '2', '-subj', `/CN=${ca}`);
  for (const n of names) {
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${n}.key`, '-out', `${n}.csr`, '-subj', `/CN=${n}`);
    openssl('x509', '-req', '-in', `${n}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${n}.crt`, '-days', '2');
  }
}

function tlsEnv(ca: string, name: string): Record<string, string> {
  return { FLEETKV_PEER_TLS: 'true', FLEETKV_PEER_TLS_CA: path.join(dir, `${ca}.crt`), FLEETKV_PEER_TLS_CERT: path.join(dir, `${name}.crt`), FLEETKV_PEER_TLS_KEY: path.join(dir, `${name}.key`) };
}

beforeAll(() => {
  makeCa('fleet-ca', ['t1', 't2']);
  makeCa('other-ca', ['intruder']);
});

test('mutual TLS with a fleet CA: members replicate, a certificate from another CA is refused with a log line', async () => {
  const t1 = await startNode('t1', { env: tlsEnv('fleet-ca', 't1') });
  nodes.push(t1);
  await t1.put('secret/k', 'v');
  const t2 = await startNode('t2', { peers: [peerAddress(t1)], env: tlsEnv('fleet-ca', 't2') });
  nodes.push(t2);
  await waitFor(async () => (await t2.get('secret/k')) === 'v', 't2 replicates over TLS');
  const intruder = await startNode('intruder', { peers: [peerAddress(t1)], env: tlsEnv('other-ca', 'intruder') });
  nodes.push(intruder);
  await waitFor(() => t1.logsMatching(/TLS handshake failed/).length > 0, 't1 logs the refused TLS handshake');
  expect(await intruder.get('secret/k')).toBeUndefined();
  // A plain-TCP peer cannot talk to a TLS node either.
  const plain = await startNode('plain', { peers: [peerAddress(t1)] });
  nodes.push(plain);
  await waitFor(() => t1.logsMatching(/TLS handshake failed/).length > 1, 'plain TCP refused');
  expect(await plain.get('secret/k')).toBeUndefined();
  expect((await t1.status()).peers.map((p: any) => p.nodeId)).toEqual(['t2']);
});
