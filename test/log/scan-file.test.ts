import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { frameRecord, scanRecords } from '../../src/log/record.js';
import { scanFile } from '../../src/log/scan-file.js';
import { tempDir } from '../helpers/proc.js';

const dir = tempDir('fleetkv-scan-file-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

type Seen = { offset: number; payload: string }[];

function scanWhole(file: string, max: number): { seen: Seen; result: unknown } {
  const seen: Seen = [];
  const result = scanRecords(fs.readFileSync(file), 0, max, (p, offset) => seen.push({ offset, payload: p.toString('hex') }));
  return { seen, result };
}

function scanChunked(file: string, max: number, chunk: number): { seen: Seen; result: unknown } {
  const seen: Seen = [];
  const result = scanFile(file, max, (p, offset) => seen.push({ offset, payload: p.toString('hex') }), chunk);
  return { seen, result };
}

describe('scanFile (chunked) against scanRecords (whole file)', () => {
  // Same records, offsets, end and failure reason for any chunk size, with
  // records crossing chunk ends, larger than a chunk, and any damaged tail.
  it('agrees on valid logs, torn tails and corrupt records', () => {
    const tails = fc.oneof(
      fc.constant({ kind: 'none' as const }),
      fc.record({ kind: fc.constant('cut' as const), bytes: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ kind: fc.constant('garbage' as const), data: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat() }),
    );
    let n = 0;
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { maxLength: 30 }), tails, fc.integer({ min: 8, max: 300 }), (payloads, tail, chunk) => {
        let bytes = Buffer.concat(payloads.map((p) => frameRecord(p)));
        if (tail.kind === 'cut') bytes = bytes.subarray(0, Math.max(0, bytes.length - tail.bytes));
        if (tail.kind === 'garbage') bytes = Buffer.concat([bytes, tail.data]);
        if (tail.kind === 'flip' && bytes.length > 0) bytes[tail.at % bytes.length]! ^= 0xff;
        const file = path.join(dir, `f${n++}.seg`);
        fs.writeFileSync(file, bytes);
        expect(scanChunked(file, 150, chunk)).toEqual(scanWhole(file, 150));
      }),
      { numRuns: 300 },
    );
  });
});
