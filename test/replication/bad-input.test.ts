import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { FRAME, encodeFrame, jsonFrame } from '../../src/replication/frames.js';
import { authProof } from '../../src/replication/hello.js';
import { waitFor, type NodeProc } from '../helpers/proc.js';
import { peerAddress, startNode, stopAll } from './fleet.js';
import { WireClient } from './wire-client.js';

const SECRET = 'fleet-secret-for-tests';
let x: NodeProc;
const nodes: NodeProc[] = [];
const clients: WireClient[] = [];

beforeAll(async () => {
  x = await startNode('x', { env: { FLEETKV_FLEET_SECRET: SECRET, FLEETKV_REPLICATION_MAX_CONNECTIONS: '16', FLEETKV_REPLICATION_HANDSHAKE_TIMEOUT: '1s' } });
  nodes.push(x);
  for (let i = 0; i < 20; i++) await x.put(`keep/k${i}`, `v${i}`);
});
afterAll(async () => {
  for (const c of clients) c.end();
  await stopAll(nodes);
});

function client(): WireClient {
  const c = new WireClient(x.ports.peer!);
  clients.push(c);
  return c;
}

/** The node logged a line for this, is still serving, and still has its data. */
async function stillServing(logRe: RegExp): Promise<void> {
  await waitFor(() => x.logsMatching(logRe).length > 0, `log line ${logRe}`);
  expect(x.exitCode).toBeUndefined();
  expect(await x.get('keep/k19')).toBe('v19');
  expect((await x.put('keep/after', 'yes')).status).toBe(200);
}

test('random bytes close that connection', async () => {
  const c = client();
  c.send(Buffer.concat([Buffer.from([0x7f, 0xff, 0xff, 0xff]), randomBytes(200)]));
  await c.waitClosed();
  await stillServing(/closing peer connection .*exceeds the maximum/);
});

test('a truncated frame closes that connection', async () => {
  const c = client();
  const hello = jsonFrame(FRAME.HELLO, { protocol: 1 });
  c.socket.end(hello.subarray(0, hello.length - 5));
  await c.waitClosed();
  await stillServing(/closed in the middle of a frame/);
});

test('an oversized length closes that connection with FRAME_TOO_LARGE', async () => {
  const c = client();
  const h = Buffer.alloc(5);
  h.writeUInt32BE(0xfffffff0, 0);
  h[4] = FRAME.HELLO;
  c.send(h);
  expect((await c.error()).code).toBe('FRAME_TOO_LARGE');
  await c.waitClosed();
  await stillServing(/frame length 4294967280 exceeds/);
});

test('a valid frame of an unknown type closes that connection, during and after the handshake', async () => {
  const c1 = client();
  c1.send(encodeFrame(99, Buffer.from('hi')));
  expect((await c1.error()).code).toBe('FRAME_INVALID');
  await c1.waitClosed();
  await stillServing(/unexpected frame type 99 during the handshake/);

  const c2 = client();
  await c2.handshake(SECRET);
  await c2.frame(FRAME.SYNC_DONE); // authenticated: the node sent its catch-up
  c2.send(encodeFrame(99, Buffer.from('hi')));
  expect((await c2.error()).code).toBe('FRAME_INVALID');
  await c2.waitClosed();
  await stillServing(/unknown frame type 99/);
});

test('a wrong secret, a replayed handshake, another fleet, another protocol version and a node id clash are refused', async () => {
  const wrong = client();
  await wrong.handshake('not-the-secret');
  expect((await wrong.error()).code).toBe('AUTH_FAILED');
  await wrong.waitClosed();
  await stillServing(/failed the fleet secret challenge/);

  // Replay: a proof recorded from one handshake fails on a new connection (fresh nonce).
  const first = client();
  const peer = await first.handshake(SECRET);
  await first.frame(FRAME.SYNC_DONE);
  const recorded = authProof(SECRET, 'default', { nodeId: 'raw', nonce: first.nonce }, peer);
  first.end();
  const replay = client();
  replay.hello({ nonce: first.nonce });
  await replay.peerHello();
  replay.send(jsonFrame(FRAME.AUTH, { proof: recorded }));
  expect((await replay.error()).code).toBe('AUTH_FAILED');
  await replay.waitClosed();

  const fleet = client();
  fleet.hello({ fleetId: 'other' });
  expect((await fleet.error()).code).toBe('FLEET_MISMATCH');
  const proto = client();
  proto.hello({ protocol: 99 });
  expect((await proto.error()).code).toBe('PROTOCOL_VERSION');
  const clash = client();
  clash.hello({ nodeId: 'x' });
  const e = await clash.error();
  expect(e.code).toBe('NODE_ID_CLASH');
  expect(e.message).toMatch(/same node id "x"/);
  await stillServing(/same node id/);
  expect(x.logsMatching(/belongs to fleet "other"/).length).toBe(1);
  expect(x.logsMatching(/protocol 99/).length).toBe(1);
});

test('two live nodes with the same id: the second is refused with NODE_ID_CLASH', async () => {
  const first = client();
  await first.handshake(SECRET, 'default', 'twin');
  await first.frame(FRAME.SYNC_DONE);
  const second = client();
  second.hello({ nodeId: 'twin', instance: 'raw-2' });
  const peer = await second.peerHello();
  first.send(jsonFrame(FRAME.PING, { t: 1 })); // the first is demonstrably alive
  await first.frame(FRAME.PONG);
  second.send(jsonFrame(FRAME.AUTH, { proof: authProof(SECRET, 'default', { nodeId: 'twin', nonce: second.nonce }, peer) }));
  expect((await second.error()).code).toBe('NODE_ID_CLASH');
  await second.waitClosed();
  expect(first.closed).toBe(false);
  await stillServing(/node id clash: another node .* is connected as "twin"/);
  first.end();
});

test('a connection flood is refused beyond replication.maxConnections; idle connections time out; a real peer still replicates', async () => {
  const flood = Array.from({ length: 100 }, () => client());
  await waitFor(() => x.logsMatching(/already 16 connections/).length > 0, 'connections over the limit refused');
  await waitFor(() => flood.every((c) => c.closed), 'every flood connection closed', 20_000);
  await stillServing(/no handshake within 1000 ms/);
  const y = await startNode('y', { peers: [peerAddress(x)], env: { FLEETKV_FLEET_SECRET: SECRET } });
  nodes.push(y);
  await waitFor(async () => (await y.get('keep/k3')) === 'v3', 'y replicates from x after the flood');
});
