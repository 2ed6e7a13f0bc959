import fs from 'node:fs';
import { describe, expect, test } from 'vitest';
import { encodeEntry, OP_PUT } from '../../src/entry/entry.js';
import { isFleetError } from '../../src/errors.js';
import { redialDelay } from '../../src/replication/backoff.js';
import { ENTRIES_CATCHUP, FRAME, FrameReader, decodeEntries, entriesFrame, jsonFrame } from '../../src/replication/frames.js';
import { authProof, checkHello, checkProof, newNonce, type Hello } from '../../src/replication/hello.js';
import { Outbox } from '../../src/replication/outbox.js';
import { PeerBook } from '../../src/replication/peer-book.js';
import { Store } from '../../src/store/store.js';
import { VersionVector } from '../../src/store/vector.js';
import { tempDir } from '../helpers/proc.js';

const entry = (seq: number, key = `k${seq}`, value = 'v', origin = 'a') => encodeEntry({ origin, inc: 1, seq, wall: 1000 + seq, logical: 0, op: OP_PUT, key, value: Buffer.from(value) });

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return isFleetError(err) ? err.code : 'OTHER';
  }
  return 'NONE';
}

describe('frames', () => {
  test('a reader reassembles frames split at every byte boundary', () => {
    const bytes = Buffer.concat([jsonFrame(FRAME.PING, { t: 1 }), entriesFrame([entry(1), entry(2)], ENTRIES_CATCHUP), jsonFrame(FRAME.ACK, { vector: {} })]);
    for (let cut = 1; cut < bytes.length; cut++) {
      const r = new FrameReader(1 << 20);
      const frames = [...r.push(bytes.subarray(0, cut)), ...r.push(bytes.subarray(cut))];
      expect(frames.map((f) => f.type)).toEqual([FRAME.PING, FRAME.ENTRIES, FRAME.ACK]);
      expect(r.pending).toBe(0);
    }
  });

  test('ENTRIES carry the canonical bytes unchanged; a flipped bit fails the CRC', () => {
    const es = [entry(1), entry(2, 'robots/r1/pose', 'x'.repeat(3000))];
    const f = new FrameReader(1 << 20).push(entriesFrame(es, 0))[0]!;
    const { flags, entries } = decodeEntries(f.body, 1 << 20);
    expect(flags).toBe(0);
    expect(entries.map((e) => e.raw.equals(es[entries.indexOf(e)]!.raw))).toEqual([true, true]);
    f.body[40] = f.body[40]! ^ 1;
    expect(code(() => decodeEntries(f.body, 1 << 20))).toBe('FRAME_INVALID');
  });

  test('oversized and zero lengths are refused before buffering', () => {
    const big = Buffer.alloc(5);
    big.writeUInt32BE(1025, 0);
    expect(code(() => new FrameReader(1024).push(big))).toBe('FRAME_TOO_LARGE');
    expect(code(() => new FrameReader(1024).push(Buffer.alloc(4)))).toBe('FRAME_INVALID');
  });
});

describe('handshake', () => {
  const hello = (over: Partial<Hello> = {}): Hello => ({ protocol: 1, fleetId: 'f', nodeId: 'b', instance: 'i', vector: { 'b:1': 3 }, nonce: newNonce(), fullResync: false, ...over });
  const self = { fleetId: 'f', nodeId: 'a' };

  test('checkHello refuses other fleets, versions, clashing ids and malformed fields', () => {
    expect(checkHello(hello(), self).nodeId).toBe('b');
    expect(code(() => checkHello(hello({ fleetId: 'g' }), self))).toBe('FLEET_MISMATCH');
    expect(code(() => checkHello(hello({ protocol: 2 }), self))).toBe('PROTOCOL_VERSION');
    expect(code(() => checkHello(hello({ nodeId: 'a' }), self))).toBe('NODE_ID_CLASH');
    expect(code(() => checkHello(hello({ nonce: 'short' }), self))).toBe('FRAME_INVALID');
    expect(code(() => checkHello(hello({ vector: { x: -1 } }), self))).toBe('FRAME_INVALID');
  });

  test('the proof binds the secret, both nonces and the direction', () => {
    const a = { nodeId: 'a', nonce: newNonce() };
    const b = { nodeId: 'b', nonce: newNonce() };
    const p = authProof('s', 'f', a, b);
    expect(checkProof(authProof('s', 'f', a, b), p)).toBe(true);
    expect(checkProof(authProof('t', 'f', a, b), p)).toBe(false);
    expect(checkProof(authProof('s', 'f', b, a), p)).toBe(false); // reflected
    expect(checkProof(authProof('s', 'f', a, { ...b, nonce: newNonce() }), p)).toBe(false); // replayed
    expect(checkProof(p, 42)).toBe(false);
  });
});

test('redial delay grows exponentially, is capped, and is jittered within [base/2, base]', () => {
  expect(redialDelay(0, 100, 5000, () => 0)).toBe(50);
  expect(redialDelay(0, 100, 5000, () => 1)).toBe(100);
  expect(redialDelay(3, 100, 5000, () => 1)).toBe(800);
  expect(redialDelay(20, 100, 5000, () => 1)).toBe(5000);
  expect(redialDelay(20, 100, 5000, () => 0)).toBe(2500);
});

describe('outbox', () => {
  test('catch-up sends one entry per key the peer lacks, then SYNC_DONE, then live entries', () => {
    const store = new Store();
    for (let i = 1; i <= 1000; i++) store.apply(entry(i, `k${i % 10}`));
    const o = new Outbox(1 << 20);
    expect(o.startCatchup(store, VersionVector.from({ 'a:1': 995 }), false)).toBe(5);
    o.offer(entry(1001, 'k1'));
    const kinds: string[] = [];
    for (let f = o.take(1 << 20); f; f = o.take(1 << 20)) kinds.push(`${f.mode}:${f.entries}`);
    expect(kinds).toEqual(['catchup:5', 'sync_done:0', 'live:1']);
  });

  test('the live queue is bounded: past it, it is dropped and a catch-up is owed', () => {
    const o = new Outbox(10_000);
    let ok = true;
    for (let i = 1; i <= 1000 && ok; i++) ok = o.offer(entry(i, 'k', 'x'.repeat(100)));
    expect(ok).toBe(false);
    expect(o.queuedBytes).toBe(0);
    expect(o.catchupOwed).toBe(true);
    expect(o.take(1 << 20)).toBeUndefined();
  });
});

test('peer book: tombstones may go only when every recent peer has them; staleness after retention', () => {
  const dir = tempDir();
  let now = 1_000_000;
  const book = new PeerBook(dir, 10_000, () => now);
  const t = entry(5);
  expect(book.holders(t)).toBe('unknown'); // no peer known
  book.seen('b', { 'a:1': 5 });
  book.seen('c', { 'a:1': 4 });
  expect(book.holders(t)).toBe('missing');
  book.seen('c', { 'a:1': 5 });
  expect(book.holders(t)).toBe('held');
  expect(book.staleness(true).stale).toBe(true); // data but never synced
  book.synced();
  book.save();
  now += 20_000;
  const again = new PeerBook(dir, 10_000, () => now);
  expect(again.staleness(true)).toEqual({ stale: true, awayMs: 20_000 });
  expect(again.isRecent('b')).toBe(false);
  expect(again.holders(t)).toBe('unknown'); // nobody seen within the retention
  expect(again.holders(entry(6), (id) => id === 'c')).toBe('missing'); // but c is connected, and lacks seq 6
  expect(fs.existsSync(`${dir}/peers.json`)).toBe(true);
});

test('mDNS: a discovered service is dialled only if it is another node of the same fleet', async () => {
  const { peerFromService } = await import('../../src/replication/discovery.js');
  const self = { fleetId: 'f', nodeId: 'a' };
  expect(peerFromService({ port: 7400, txt: { fleet: 'f', node: 'b' }, referer: { address: '127.0.0.1' } }, self)).toBe('127.0.0.1:7400');
  expect(peerFromService({ port: 7400, txt: { fleet: 'f', node: 'b' }, addresses: ['fe80::1', '127.0.0.2'] }, self)).toBe('127.0.0.2:7400');
  expect(peerFromService({ port: 7400, txt: { fleet: 'g', node: 'b' }, referer: { address: '127.0.0.1' } }, self)).toBeUndefined();
  expect(peerFromService({ port: 7400, txt: { fleet: 'f', node: 'a' }, referer: { address: '127.0.0.1' } }, self)).toBeUndefined();
  expect(peerFromService({ port: 0, txt: { fleet: 'f', node: 'b' }, referer: { address: '127.0.0.1' } }, self)).toBeUndefined();
});
