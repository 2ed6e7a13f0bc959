import { expect, test } from 'vitest';
import { OP_DEL, OP_PUT, compareEntries, decodeEntry, decodeTrustedCopy, encodeEntry, type EntryFields } from '../../src/entry/entry.js';
import { parseTtl } from '../../src/entry/ttl.js';
import { expiryTombstoneFields } from '../../src/store/expiry.js';

const base = { origin: 'n1', inc: 1, seq: 7, wall: 1_700_000_000_000, logical: 3, op: OP_PUT, key: 'robots/r1/pose', value: Buffer.from('{"x":1}') } as const;

test('an entry without a TTL is byte for byte the format-1 entry', () => {
  const e = encodeEntry(base);
  expect(e.raw[1]).toBe(OP_PUT);
  expect(e.raw.length).toBe(25 + 2 + base.key.length + base.value.length);
  expect(e.expiresAt).toBe(0);
});

test('the expiry travels in the canonical bytes and survives decoding', () => {
  const e = encodeEntry({ ...base, expiresAt: base.wall + 3000 });
  expect(e.raw[1]).toBe(0x81);
  const d = decodeEntry(Buffer.from(e.raw));
  expect(d.op).toBe(OP_PUT);
  expect(d.expiresAt).toBe(base.wall + 3000);
  expect(d.key).toBe(base.key);
  expect(d.origin).toBe('n1');
  expect(d.value.toString()).toBe('{"x":1}');
  expect(d.expiredAt(base.wall + 2999)).toBe(false);
  expect(d.expiredAt(base.wall + 3000)).toBe(true);
});

test('a flagged delete or a truncated expiry is refused as FRAME_INVALID', () => {
  const e = Buffer.from(encodeEntry({ ...base, expiresAt: base.wall + 1 }).raw);
  expect(() => decodeEntry(e.subarray(0, 28))).toThrow(/shorter/);
  const del = Buffer.from(encodeEntry({ ...base, op: OP_DEL, value: undefined }).raw);
  del[1] = OP_DEL | 0x80;
  expect(() => decodeEntry(del)).toThrow(/unknown op 130/);
});

test('the expiry tombstone sorts right after its put and before any later write', () => {
  const put = encodeEntry({ ...base, expiresAt: base.wall + 1000 });
  const tomb = encodeEntry(expiryTombstoneFields(put, 1, 8));
  const later = encodeEntry({ ...base, origin: 'a0', seq: 1, logical: 4 });
  const earlierOtherOrigin = encodeEntry({ ...base, origin: 'zz', seq: 1, logical: 2 });
  expect(compareEntries(tomb, put)).toBeGreaterThan(0);
  expect(compareEntries(later, tomb)).toBeGreaterThan(0);
  expect(compareEntries(tomb, earlierOtherOrigin)).toBeGreaterThan(0);
  // After an unclean restart (a new incarnation), still just after its put.
  const tomb2 = encodeEntry(expiryTombstoneFields(put, 2, 1));
  expect(compareEntries(tomb2, put)).toBeGreaterThan(0);
  expect(compareEntries(later, tomb2)).toBeGreaterThan(0);
});

test('ttl units, bad and absurd values', () => {
  expect(parseTtl('250ms')).toBe(250);
  expect(parseTtl('3s')).toBe(3000);
  expect(parseTtl('1.5s')).toBe(1500);
  expect(parseTtl('5m')).toBe(300_000);
  expect(parseTtl('2h')).toBe(7_200_000);
  expect(parseTtl('100')).toBe(100);
  expect(parseTtl(42)).toBe(42);
  for (const bad of ['', 'abc', '3d', '-1s', '0', '0s', '1e9', '3 seconds', '9999h']) {
    expect(() => parseTtl(bad), bad).toThrow(expect.objectContaining({ code: 'TTL_INVALID' }));
  }
  expect(() => parseTtl(Number.NaN)).toThrow(expect.objectContaining({ code: 'TTL_INVALID' }));
});

test('recovery decodes its own records with and without an expiry as the checked decoder does', () => {
  const cases: EntryFields[] = [base, { ...base, expiresAt: base.wall + 3000 }, { ...base, op: OP_DEL, value: undefined }];
  for (const fields of cases) {
    const raw = Buffer.from(encodeEntry(fields).raw);
    const checked = decodeEntry(raw);
    const trusted = decodeTrustedCopy(raw);
    expect([trusted.origin, trusted.key, trusted.seq, trusted.expiresAt, trusted.isDelete ? '' : trusted.value.toString()]).toEqual([
      checked.origin,
      checked.key,
      checked.seq,
      checked.expiresAt,
      checked.isDelete ? '' : checked.value.toString(),
    ]);
  }
});
