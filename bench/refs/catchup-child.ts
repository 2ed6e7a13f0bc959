/**
 * C1: sender CPU for a catch-up of `missing` entries toward a peer on a store
 * of `n` keys. Builds the store in this process (entries of one origin, one
 * per key), gives the peer a vector `missing` entries behind, then measures
 * the CPU of Outbox.startCatchup plus taking every frame it owes.
 *
 *   node --import tsx bench/refs/catchup-child.ts <n> <missing>   prints one JSON line
 */
import { encodeEntry, OP_PUT, streamId } from '../../src/entry/entry.js';
import { Outbox } from '../../src/replication/outbox.js';
import { Store } from '../../src/store/store.js';
import { VersionVector } from '../../src/store/vector.js';

const n = Number(process.argv[2] ?? 1_000_000);
const missing = Number(process.argv[3] ?? 10);
const store = new Store();
const value = Buffer.alloc(100, 'v');
for (let i = 1; i <= n; i++) {
  store.apply(encodeEntry({ origin: 'a', inc: 0, seq: i, wall: 1_700_000_000_000 + i, logical: 0, op: OP_PUT, key: `key/${String(i).padStart(7, '0')}`, value }));
}
const peer = VersionVector.from({ [streamId('a', 0)]: n - missing });
const runs: number[] = [];
let sent = 0;
for (let r = 0; r < 5; r++) {
  const outbox = new Outbox(64 << 20);
  const cpu0 = process.cpuUsage();
  outbox.startCatchup(store, peer, false);
  sent = 0;
  for (let o = outbox.take(256 << 10); o; o = outbox.take(256 << 10)) sent += o.entries;
  const cpu = process.cpuUsage(cpu0);
  runs.push((cpu.user + cpu.system) / 1000);
}
runs.sort((a, b) => a - b);
process.stdout.write(`${JSON.stringify({ keys: store.size, missing, sent, cpuMsMedian: runs[2], cpuMsMin: runs[0] })}\n`);
process.exit(0);
