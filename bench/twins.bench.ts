/**
 * Cost of ACK stamps (twins with one incarnation, src/replication/twins.ts):
 * per ACK, stamping every moved stream and comparing a peer's stamps, against
 * the same ACK without stamps (the reference, measured alternately in the
 * same run). No goal: the figure shows the normal path stays cheap.
 */
import { OP_PUT, encodeEntry } from '../src/entry/entry.js';
import { clashes, stampsFor } from '../src/replication/twins.js';
import { Store } from '../src/store/store.js';
import type { BenchSection } from './run.js';

const hello = (): { started: number; instance: string } => ({ started: 1_764_700_000_000, instance: '0123456789abcdef' });

export async function sections(): Promise<BenchSection[]> {
  const rows = [];
  for (const streams of [5, 50]) {
    const store = new Store();
    for (let o = 0; o < streams; o++) {
      for (let i = 1; i <= 2000; i++) store.apply(encodeEntry({ origin: `robot-${o}`, inc: 123_456, seq: i, wall: 1e12 + i, logical: 0, op: OP_PUT, key: `robot-${o}/k${i % 500}`, value: Buffer.alloc(100) }));
    }
    const ack = (stamps: unknown): string => JSON.stringify({ vector: store.vector.toObject(), direct: [], mqttForward: true, ...(stamps ? { stamps } : {}) });
    const stamps = stampsFor(store, store.vector, undefined, 'me', hello)!;
    const n = 5000;
    let ref = 0;
    let send = 0;
    let recv = 0;
    for (let round = 0; round < 3; round++) {
      let t = performance.now();
      for (let k = 0; k < n; k++) ack(undefined);
      ref += performance.now() - t;
      t = performance.now();
      for (let k = 0; k < n; k++) ack(stampsFor(store, store.vector, undefined, 'me', hello));
      send += performance.now() - t;
      t = performance.now();
      for (let k = 0; k < n; k++) if (clashes(store, store.vector, stamps).length !== 0) throw new Error('false clash');
      recv += performance.now() - t;
    }
    const us = (ms: number): number => Math.round(((ms * 1000) / (3 * n)) * 10) / 10;
    rows.push({
      'moved streams': streams,
      'ACK µs (ref)': us(ref),
      'ACK + stamps µs': us(send),
      'compare µs': us(recv),
      'stamps/ref': Math.round((send / ref) * 100) / 100,
      'ACK bytes ref → with': `${ack(undefined).length} → ${ack(stamps).length}`,
    });
  }
  return [{ title: 'ACK stamps (twins): cost per ACK, all streams moved', rows, notes: ['An idle link stamps nothing (only streams that moved since the last ACK); at most one ACK per antiEntropyInterval per link.'] }];
}
