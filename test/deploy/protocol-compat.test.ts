import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProc, tempDir, waitFor } from '../helpers/proc.js';

/**
 * A peer of another release (an older or newer replication protocol) meets a
 * running node: it gets an ERROR frame naming both versions and the reason,
 * and the node keeps running. Frames per DESIGN §4: u32 length | u8 type | body
 * (HELLO = 1, ERROR = 8, JSON bodies). Runs once replication (issue 3) is in.
 */
const HELLO = 1;
const ERROR = 8;

function frame(type: number, body: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(body));
  const b = Buffer.alloc(5 + json.length);
  b.writeUInt32BE(1 + json.length, 0);
  b[4] = type;
  json.copy(b, 5);
  return b;
}

/** Connect, read the node's HELLO, send ours with `protocol(theirs)`, collect frames until the node closes. */
async function meet(port: number, protocol: (theirs: number) => number): Promise<{ theirs: number; frames: { type: number; body: any }[] }> {
  const sock = net.connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  const frames: { type: number; body: any }[] = [];
  let buf = Buffer.alloc(0);
  let sent = false;
  let theirs = -1;
  await new Promise<void>((resolve, reject) => {
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 5 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const len = buf.readUInt32BE(0);
        const f = { type: buf[4]!, body: JSON.parse(buf.subarray(5, 4 + len).toString()) };
        buf = buf.subarray(4 + len);
        frames.push(f);
        if (f.type === HELLO && !sent) {
          sent = true;
          theirs = f.body.protocol as number;
          sock.write(frame(HELLO, { protocol: protocol(theirs), fleetId: 'default', nodeId: 'visitor', instance: 'x1', vector: {}, nonce: randomBytes(32).toString('hex'), fullResync: false }));
        }
      }
    });
    sock.on('close', () => resolve());
    sock.on('error', reject);
  });
  return { theirs, frames };
}

describe('a peer speaking another protocol version', () => {
  let node: NodeProc;
  beforeAll(async () => {
    node = await new NodeProc({ nodeId: 'p1', dataDir: path.join(tempDir(), 'p1') }).start();
  });
  afterAll(async () => {
    expect(await node.stop()).toBe(0);
  });

  for (const [what, version] of [
    ['the previous', (v: number) => v - 1],
    ['a future', (v: number) => v + 1],
  ] as const) {
    it(`${what} version gets an ERROR naming both versions; the node keeps running and taking writes`, async () => {
      const { theirs, frames } = await meet(node.ports.peer!, version);
      expect(theirs).toBeGreaterThanOrEqual(1);
      const err = frames.find((f) => f.type === ERROR);
      expect(err?.body).toEqual({ code: 'PROTOCOL_VERSION', message: `peer speaks protocol ${version(theirs)}, this node speaks ${theirs}` });
      expect((await node.fetch('/healthz')).status).toBe(200);
      expect((await node.put(`after/${theirs}/${version(theirs)}`, 'ok')).status).toBe(200);
      await waitFor(() => node.logs.some((l) => JSON.stringify(l).includes('PROTOCOL_VERSION')), 'a log line about the refused peer');
    });
  }
});
