import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OP_DEL, OP_PUT, decodeEntry, decodeEntryCopy, encodeEntry, type Entry, type EntryFields } from '../../src/entry/entry.js';
import { isValidKey } from '../../src/entry/key.js';

// Entries keep their bytes in shared slabs and read their fields from them
// (src/entry/arena.ts): every way of making an entry must give back exactly
// the fields it was made from, and entries packed side by side must not
// overwrite each other.
const fields = fc.record({
  origin: fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/),
  inc: fc.integer({ min: 1, max: 0xffff_ffff }),
  seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  wall: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
  logical: fc.integer({ min: 0, max: 0xffff }),
  op: fc.constantFrom(OP_PUT, OP_DEL),
  key: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }).filter(isValidKey),
  value: fc.uint8Array({ maxLength: 6000 }),
});

function made(f: EntryFields & { value: Uint8Array }): EntryFields {
  return f.op === OP_DEL ? { ...f, value: undefined } : f;
}

function expectFields(e: Entry, f: EntryFields): void {
  expect({ origin: e.origin, inc: e.inc, seq: e.seq, wall: e.wall, logical: e.logical, op: e.op, key: e.key, stream: e.stream }).toEqual({
    origin: f.origin,
    inc: f.inc,
    seq: f.seq,
    wall: f.wall,
    logical: f.logical,
    op: f.op,
    key: f.key,
    stream: `${f.origin}:${f.inc}`,
  });
  const value = Buffer.from(f.value ?? []);
  expect(e.value.equals(value)).toBe(true);
  expect(e.valueLength).toBe(value.length);
  expect(e.byteLength).toBe(e.raw.length);
}

describe('entries stored in shared slabs', () => {
  it('encode, decode and decode-copy give back every field', () => {
    fc.assert(
      fc.property(fields, (g) => {
        const f = made(g);
        const e = encodeEntry(f);
        expectFields(e, f);
        expectFields(decodeEntry(Buffer.from(e.raw)), f);
        expectFields(decodeEntryCopy(e.raw), f);
      }),
      { numRuns: 300 },
    );
  });

  it('entries packed next to each other keep their own bytes', () => {
    fc.assert(
      fc.property(fc.array(fields, { minLength: 1, maxLength: 200 }), (gs) => {
        const fs = gs.map(made);
        const es = fs.map((f, i) => (i % 2 === 0 ? encodeEntry(f) : decodeEntryCopy(encodeEntry(f).raw)));
        for (const [i, e] of es.entries()) expectFields(e, fs[i]!);
      }),
      { numRuns: 30 },
    );
  });
});
