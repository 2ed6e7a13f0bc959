import { FleetError } from '../errors.js';
import { validateKey } from './key.js';

/**
 * The entry: the unit of log, replication and publication (DESIGN §2).
 *
 * Canonical encoding (big-endian), used unchanged as the log record payload
 * and inside ENTRIES frames, so replication ships what the log holds:
 *
 *   off  size  field
 *   0    1     kind      1 = entry (other kinds: see log/records.ts)
 *   1    1     op        1 = put, 2 = del (tombstone)
 *   2    1     originLen 1..64
 *   3    4     inc       incarnation of the origin (see docs/adr/0002)
 *   7    8     seq       per-(origin, inc) counter, 1, 2, 3 ... (u64, < 2^53)
 *   15   6     wall      HLC wall-clock milliseconds (48 bits)
 *   21   2     logical   HLC logical counter
 *   23   2     keyLen    1..1024
 *   25   ..    origin, key (UTF-8), value (the rest of the payload)
 */
export const KIND_ENTRY = 1;
export const OP_PUT = 1;
export const OP_DEL = 2;
export type Op = typeof OP_PUT | typeof OP_DEL;
export const ENTRY_HEADER_BYTES = 25;

const TWO_32 = 0x1_0000_0000;

export class Entry {
  constructor(
    readonly origin: string,
    readonly inc: number,
    readonly seq: number,
    readonly wall: number,
    readonly logical: number,
    readonly op: Op,
    readonly key: string,
    /** The canonical bytes; the value is a view into them. */
    readonly raw: Buffer,
    readonly valueOffset: number,
  ) {}

  get value(): Buffer {
    return this.raw.subarray(this.valueOffset);
  }

  get valueLength(): number {
    return this.raw.length - this.valueOffset;
  }

  /** The replication stream this entry belongs to: one per (origin, incarnation). */
  get stream(): string {
    return streamId(this.origin, this.inc);
  }

  get isDelete(): boolean {
    return this.op === OP_DEL;
  }
}

export function streamId(origin: string, inc: number): string {
  return `${origin}:${inc}`;
}

export function parseStreamId(stream: string): { origin: string; inc: number } {
  const i = stream.lastIndexOf(':');
  return { origin: stream.slice(0, i), inc: Number(stream.slice(i + 1)) };
}

export interface EntryFields {
  origin: string;
  inc: number;
  seq: number;
  wall: number;
  logical: number;
  op: Op;
  key: string;
  value?: Uint8Array | undefined;
}

/** Encode into one freshly allocated buffer (the buffer becomes the entry's storage). */
export function encodeEntry(f: EntryFields, keyBytes = Buffer.byteLength(f.key, 'utf8')): Entry {
  const originBytes = f.origin.length; // origins are ASCII (validated at config time)
  const valueLen = f.value ? f.value.length : 0;
  const valueOffset = ENTRY_HEADER_BYTES + originBytes + keyBytes;
  const buf = Buffer.allocUnsafe(valueOffset + valueLen);
  buf[0] = KIND_ENTRY;
  buf[1] = f.op;
  buf[2] = originBytes;
  buf.writeUInt32BE(f.inc, 3);
  buf.writeUInt32BE(Math.floor(f.seq / TWO_32), 7);
  buf.writeUInt32BE(f.seq >>> 0, 11);
  buf.writeUIntBE(f.wall, 15, 6);
  buf.writeUInt16BE(f.logical, 21);
  buf.writeUInt16BE(keyBytes, 23);
  buf.write(f.origin, ENTRY_HEADER_BYTES, originBytes, 'latin1');
  buf.write(f.key, ENTRY_HEADER_BYTES + originBytes, keyBytes, 'utf8');
  if (f.value && valueLen > 0) buf.set(f.value, valueOffset);
  return new Entry(f.origin, f.inc, f.seq, f.wall, f.logical, f.op, f.key, buf, valueOffset);
}

/**
 * Decode canonical bytes. `raw` becomes the entry's storage, so pass a buffer
 * the entry may keep (copy slices of large read buffers first).
 * Throws FRAME_INVALID on anything malformed: a decoder never trusts its input.
 */
export function decodeEntry(raw: Buffer): Entry {
  if (raw.length < ENTRY_HEADER_BYTES) throw invalid(`entry is ${raw.length} bytes, shorter than its header`);
  if (raw[0] !== KIND_ENTRY) throw invalid(`record kind ${raw[0]} is not an entry`);
  const op = raw[1];
  if (op !== OP_PUT && op !== OP_DEL) throw invalid(`unknown op ${op}`);
  const originLen = raw[2]!;
  const keyLen = raw.readUInt16BE(23);
  if (originLen === 0 || originLen > 64) throw invalid(`origin length ${originLen}`);
  if (keyLen === 0 || keyLen > 1024) throw invalid(`key length ${keyLen}`);
  const valueOffset = ENTRY_HEADER_BYTES + originLen + keyLen;
  if (valueOffset > raw.length) throw invalid('entry shorter than its origin and key');
  if (op === OP_DEL && valueOffset !== raw.length) throw invalid('a delete carries no value');
  const seq = raw.readUInt32BE(7) * TWO_32 + raw.readUInt32BE(11);
  if (seq < 1 || !Number.isSafeInteger(seq)) throw invalid(`seq ${seq} out of range`);
  const key = raw.toString('utf8', ENTRY_HEADER_BYTES + originLen, valueOffset);
  if (Buffer.byteLength(key, 'utf8') !== keyLen) throw invalid('key is not valid UTF-8');
  try {
    validateKey(key);
  } catch (err) {
    throw invalid((err as Error).message);
  }
  return new Entry(
    raw.toString('latin1', ENTRY_HEADER_BYTES, ENTRY_HEADER_BYTES + originLen),
    raw.readUInt32BE(3),
    seq,
    raw.readUIntBE(15, 6),
    raw.readUInt16BE(21),
    op as Op,
    key,
    raw,
    valueOffset,
  );
}

function invalid(msg: string): FleetError {
  return new FleetError('FRAME_INVALID', `malformed entry: ${msg}`);
}

/**
 * Last-writer-wins order: the larger (hlc, origin, inc) wins. Total and
 * deterministic, so replicas that saw the same entries agree.
 * Returns > 0 when a is newer than b, 0 for the same write.
 */
export function compareEntries(a: Entry, b: Entry): number {
  if (a.wall !== b.wall) return a.wall - b.wall;
  if (a.logical !== b.logical) return a.logical - b.logical;
  if (a.origin !== b.origin) return a.origin < b.origin ? -1 : 1;
  if (a.inc !== b.inc) return a.inc - b.inc;
  return a.seq - b.seq;
}
