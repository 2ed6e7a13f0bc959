import fs from 'node:fs';
import { RECORD_HEADER_BYTES, scanRecords, type ScanResult } from './record.js';

const CHUNK_BYTES = 1 << 20;

/**
 * scanRecords over a whole file, read in chunks into one reused buffer.
 * Reading a 64 MiB segment (or a snapshot of hundreds) into a fresh buffer
 * costs a page fault per 4 KiB, about as much as decoding its records; a
 * reused 1 MiB buffer does not. Offsets in the result are file offsets, and
 * `onRecord` gets views into the chunk (copy to keep, as with scanRecords).
 */
export function scanFile(file: string, maxRecordBytes: number, onRecord: (payload: Buffer, offset: number) => void, chunkBytes = CHUNK_BYTES): ScanResult {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    let buf = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(size, RECORD_HEADER_BYTES)));
    let base = 0; // file offset of buf[0]
    let len = 0; // valid bytes in buf
    let atEof = false;
    for (;;) {
      // Fill the buffer from the file.
      while (len < buf.length && !atEof) {
        const n = fs.readSync(fd, buf, len, buf.length - len, base + len);
        len += n;
        atEof = n === 0 || base + len >= size;
      }
      const view = len === buf.length ? buf : buf.subarray(0, len);
      const scan = scanRecords(view, 0, maxRecordBytes, (p, off) => onRecord(p, base + off));
      if (scan.ok) {
        if (atEof) return { ok: true, end: base + scan.end };
      } else if (atEof || !isIncomplete(scan.reason)) {
        return { ok: false, end: base + scan.end, reason: scan.reason };
      }
      // A record runs past the chunk: move its start to the front, grow if it cannot fit, read on.
      const rest = len - scan.end;
      const need = rest >= RECORD_HEADER_BYTES ? RECORD_HEADER_BYTES + buf.readUInt32BE(scan.end) : 0;
      if (need > buf.length) {
        const bigger = Buffer.allocUnsafe(need);
        buf.copy(bigger, 0, scan.end, len);
        buf = bigger;
      } else {
        buf.copy(buf, 0, scan.end, len);
      }
      base += scan.end;
      len = rest;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The record is cut by the end of the chunk, not bad: checkRecordAt's truncation reasons. */
function isIncomplete(reason: string): boolean {
  return reason === 'truncated record header' || reason === 'truncated record';
}
