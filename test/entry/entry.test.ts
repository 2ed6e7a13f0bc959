import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OP_DEL, OP_PUT, compareEntries, decodeEntry, encodeEntry } from '../../src/entry/entry.js';
import { validateKey } from '../../src/entry/key.js';
import { isFleetError } from '../../src/errors.js';

const level = fc.stringMatching(/^[A-Za-z0-9_.\-é☃ ]{1,12}$/);
const keyArb = fc.array(level, { minLength: 1, maxLength: 5 }).map((ls) => ls.join('/'));
const originArb = fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/);

describe('entry encoding', () => {
  it('round-trips every field through the canonical bytes', () => {
    fc.assert(
      fc.property(
        originArb,
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: 2 ** 48 - 1 }),
        fc.integer({ min: 0, max: 0xffff }),
        keyArb,
        fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }),
        (origin, inc, seq, wall, logical, key, value) => {
          const op = value === undefined ? OP_DEL : OP_PUT;
          const e = encodeEntry({ origin, inc, seq, wall, logical, op, key, value });
          const d = decodeEntry(Buffer.from(e.raw));
          expect([d.origin, d.inc, d.seq, d.wall, d.logical, d.op, d.key]).toEqual([origin, inc, seq, wall, logical, op, key]);
          expect(Buffer.compare(d.value, Buffer.from(value ?? []))).toBe(0);
          expect(d.stream).toBe(`${origin}:${inc}`);
        },
      ),
    );
  });

  it('refuses malformed bytes with FRAME_INVALID, whatever they are', () => {
    const good = encodeEntry({ origin: 'r1', inc: 1, seq: 1, wall: 5, logical: 0, op: OP_PUT, key: 'a/b', value: Buffer.from('v') }).raw;
    const bad: Buffer[] = [
      Buffer.alloc(0),
      good.subarray(0, 10),
      Buffer.concat([Buffer.from([9]), good.subarray(1)]), // wrong kind
      Buffer.concat([good.subarray(0, 1), Buffer.from([7]), good.subarray(2)]), // unknown op
      Buffer.from(good).fill(0, 7, 15), // seq 0
    ];
    const badKey = Buffer.from(good);
    badKey.write('#', 25 + 2); // key byte becomes '#'
    bad.push(badKey);
    for (const b of bad) {
      let caught: unknown;
      try {
        decodeEntry(b);
      } catch (err) {
        caught = err;
      }
      expect(isFleetError(caught, 'FRAME_INVALID'), `should refuse ${b.toString('hex')}`).toBe(true);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        try {
          decodeEntry(Buffer.from(bytes));
        } catch (err) {
          expect(isFleetError(err, 'FRAME_INVALID')).toBe(true);
        }
      }),
    );
  });

  it('orders by (hlc, origin) totally and deterministically', () => {
    const mk = (wall: number, logical: number, origin: string) => encodeEntry({ origin, inc: 1, seq: 1, wall, logical, op: OP_PUT, key: 'k' });
    expect(compareEntries(mk(2, 0, 'a'), mk(1, 9, 'z'))).toBeGreaterThan(0);
    expect(compareEntries(mk(1, 1, 'a'), mk(1, 0, 'z'))).toBeGreaterThan(0);
    expect(compareEntries(mk(1, 1, 'b'), mk(1, 1, 'a'))).toBeGreaterThan(0);
    expect(compareEntries(mk(1, 1, 'a'), mk(1, 1, 'a'))).toBe(0);
  });
});

describe('key rules', () => {
  it.each([
    ['', 'non-empty'],
    ['a#b', "'#'"],
    ['a/+/b', "'+'"],
    ['a\0b', 'NUL'],
    ['a//b', 'empty level'],
    ['/a', 'empty level'],
    ['a/', 'empty level'],
    ['x'.repeat(1025), '1024'],
    ['\ud800', 'UTF-8'],
  ])('refuses %j (%s)', (key, why) => {
    expect(() => validateKey(key)).toThrow(why);
    try {
      validateKey(key);
    } catch (err) {
      expect(isFleetError(err, 'KEY_INVALID')).toBe(true);
    }
  });

  it('accepts valid keys, including multi-byte UTF-8 up to 1024 bytes', () => {
    expect(validateKey('robots/r1/pose')).toBe(14);
    expect(validateKey('é'.repeat(512))).toBe(1024);
    expect(() => validateKey('é'.repeat(513))).toThrow('1024');
    expect(validateKey('😀/x')).toBe(6);
  });
});
