/**
 * The clock during recovery (docs/adr/0103, issue 10 item 4): replay observes
 * only entries stamped after the clock, against a wall-clock reading it takes
 * again only when a stamp looks too far ahead. The result must be what one
 * observe per entry gave: stamps within maxClockSkew move the clock, stamps
 * beyond it are kept, counted (every one) and do not move it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { afterEach, expect, test } from 'vitest';
import { OP_PUT, encodeEntry } from '../../src/entry/entry.js';
import { listLogDir, segmentPath } from '../../src/log/files.js';
import { frameRecord } from '../../src/log/record.js';
import type { FleetNode } from '../../src/node.js';
import { startCoreNode } from '../helpers/node.js';
import { tempDir } from '../helpers/proc.js';

let nodes: FleetNode[] = [];
afterEach(async () => {
  for (const n of nodes) await n.stop();
  nodes = [];
});

function capture(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

test('recovered stamps: within the skew they move the clock, beyond it each is counted and none moves it', async () => {
  const dir = tempDir();
  const first = await startCoreNode(dir);
  nodes.push(first);
  await first.put('own/1', 'x');
  await first.stop();
  nodes = [];

  // Entries of other origins appended to the log as replication would have
  // written them: two runs far ahead (1 h), one stamp 20 s ahead (within the
  // default 60 s skew), entries behind, in an order that mixes all three.
  const now = Date.now();
  const value = Buffer.from('v');
  const far = (seq: number, logical: number) => encodeEntry({ origin: 'far', inc: 1, seq, wall: now + 3_600_000, logical, op: OP_PUT, key: `far/${seq}`, value });
  const near = (seq: number, wall: number) => encodeEntry({ origin: 'near', inc: 1, seq, wall, logical: 0, op: OP_PUT, key: `near/${seq}`, value });
  const entries = [near(1, now - 5000), far(1, 0), far(2, 1), near(2, now + 20_000), near(3, now - 1000), far(3, 2), near(4, now + 10_000)];
  const active = segmentPath(dir, listLogDir(dir).segments.at(-1)!);
  fs.appendFileSync(active, Buffer.concat(entries.map((e) => frameRecord(e.raw))));

  const { logger, lines } = capture();
  const node = await startCoreNode(dir, undefined, { logger });
  nodes.push(node);
  expect(node.store.size).toBe(1 + entries.length);
  const warn = lines.find((l) => typeof l.msg === 'string' && l.msg.includes('entries stamped more than maxClockSkew ahead'));
  expect(warn, 'the recovery warning').toBeDefined();
  expect(warn!.entries).toBe(3);
  expect(warn!.origins).toEqual(['far']);
  expect(warn!.maxAheadMs as number).toBeGreaterThan(3_500_000);
  // The clock moved past the 20 s stamp (a new write orders after it) but not to the far future.
  await node.put('own/2', 'y');
  const wall = node.store.getAny('own/2')!.wall;
  expect(wall).toBeGreaterThanOrEqual(now + 20_000);
  expect(wall).toBeLessThan(now + 600_000);
  expect(path.basename(active)).toMatch(/\.seg$/);
});
