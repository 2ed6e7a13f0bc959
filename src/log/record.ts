import { crc32 } from 'node:zlib';

/**
 * Record framing shared by segments, snapshots and ENTRIES frames:
 *
 *   u32 length | u32 crc32(payload) | payload
 *
 * The payload's first byte is its kind, so one reader handles every file.
 */
export const RECORD_HEADER_BYTES = 8;

/** Largest record a log or snapshot may hold: the largest entry (value, key, origin, header) with room to spare. */
export function maxLogRecordBytes(maxValueBytes: number): number {
  return maxValueBytes + 4096 + 1024 * 1024;
}

export const KIND = {
  ENTRY: 1, // canonical entry bytes (entry/entry.ts)
  VECTOR: 2, // u8 kind | JSON VectorObject: streams merged after a catch-up
  SNAPSHOT_BEGIN: 3, // u8 kind | JSON SnapshotMeta
  SNAPSHOT_END: 4, // u8 kind | u32 entry count
} as const;

/** Write one framed record into `dst` at `off`; returns the offset after it. */
export function writeRecord(dst: Buffer, off: number, payload: Uint8Array): number {
  dst.writeUInt32BE(payload.length, off);
  dst.writeUInt32BE(crc32(payload), off + 4);
  dst.set(payload, off + RECORD_HEADER_BYTES);
  return off + RECORD_HEADER_BYTES + payload.length;
}

export function frameRecord(payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  writeRecord(b, 0, payload);
  return b;
}

/** A small record of kind + JSON body (rare metadata records). */
export function jsonPayload(kind: number, body: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(body), 'utf8');
  const b = Buffer.allocUnsafe(1 + json.length);
  b[0] = kind;
  json.copy(b, 1);
  return b;
}

export function parseJsonPayload<T>(payload: Buffer): T {
  return JSON.parse(payload.toString('utf8', 1)) as T;
}

export type ScanResult = { ok: true; end: number } | { ok: false; end: number; reason: string };

/**
 * Walk the records in `buf` from `start`, calling `onRecord` with a view of
 * each payload (copy it to keep it). Stops at the first record that is
 * incomplete, over `maxRecordBytes` or fails its CRC, and says where and why.
 */
export function scanRecords(buf: Buffer, start: number, maxRecordBytes: number, onRecord: (payload: Buffer, offset: number) => void): ScanResult {
  let off = start;
  while (off < buf.length) {
    // checkRecordAt inlined: one view per record serves the CRC and the caller (recovery's hot loop).
    if (buf.length - off < RECORD_HEADER_BYTES) return { ok: false, end: off, reason: 'truncated record header' };
    const len = buf.readUInt32BE(off);
    if (len === 0 || len > maxRecordBytes || buf.length - off - RECORD_HEADER_BYTES < len) return { ok: false, end: off, reason: checkRecordAt(buf, off, maxRecordBytes)! };
    const payload = buf.subarray(off + RECORD_HEADER_BYTES, off + RECORD_HEADER_BYTES + len);
    if (crc32(payload) !== buf.readUInt32BE(off + 4)) return { ok: false, end: off, reason: 'CRC mismatch' };
    onRecord(payload, off);
    off += RECORD_HEADER_BYTES + len;
  }
  return { ok: true, end: off };
}

/** null when a complete, valid record starts at `off`; otherwise why not. */
export function checkRecordAt(buf: Buffer, off: number, maxRecordBytes: number): string | null {
  if (buf.length - off < RECORD_HEADER_BYTES) return 'truncated record header';
  const len = buf.readUInt32BE(off);
  if (len === 0) return 'zero-length record';
  if (len > maxRecordBytes) return `record length ${len} exceeds the maximum ${maxRecordBytes}`;
  if (buf.length - off - RECORD_HEADER_BYTES < len) return 'truncated record';
  const want = buf.readUInt32BE(off + 4);
  const got = crc32(buf.subarray(off + RECORD_HEADER_BYTES, off + RECORD_HEADER_BYTES + len));
  if (want !== got) return 'CRC mismatch';
  return null;
}

/** Offset of the first valid record after `from`, or -1 (tells corruption from a torn tail). */
export function findValidRecordAfter(buf: Buffer, from: number, maxRecordBytes: number): number {
  for (let off = from + 1; off + RECORD_HEADER_BYTES < buf.length; off++) {
    const len = buf.readUInt32BE(off);
    if (len === 0 || len > maxRecordBytes || off + RECORD_HEADER_BYTES + len > buf.length) continue;
    if (checkRecordAt(buf, off, maxRecordBytes) === null) return off;
  }
  return -1;
}
