import { FleetError } from '../errors.js';
import { reserve, reserveRecovered, reserved } from './arena.js';
import { validateKey } from './key.js';

/**
 * The entry: the unit of log, replication and publication (docs/adr/0001-record-format-and-framing.md).
 *
 * Canonical encoding (big-endian), used unchanged as the log record payload
 * and inside ENTRIES frames, so replication ships what the log holds:
 *
 *   off  size  field
 *   0    1     kind      1 = entry (other kinds: see log/records.ts)
 *   1    1     op        1 = put, 2 = del (tombstone); bit 0x80 = FLAG_EXPIRES
 *   2    1     originLen 1..64
 *   3    4     inc       incarnation of the origin (see docs/adr/0002)
 *   7    8     seq       per-(origin, inc) counter, 1, 2, 3 ... (u64, < 2^53)
 *   15   6     wall      HLC wall-clock milliseconds (48 bits)
 *   21   2     logical   HLC logical counter
 *   23   2     keyLen    1..1024
 *   25   ..    origin, key (UTF-8), value (the rest of the payload)
 *
 * With FLAG_EXPIRES set on the op byte (a put with a TTL, format 2 of the
 * entry), 6 more header bytes follow at offset 25, before the origin:
 *
 *   25   6     expiresAt wall-clock milliseconds after which the put is hidden (48 bits)
 *
 * An entry without the flag is byte for byte the format-1 entry, so old logs
 * and peers read unchanged; an older reader refuses a flagged entry as
 * FRAME_INVALID ("unknown op 129") rather than misread it (docs/adr/0001).
 */
export const KIND_ENTRY = 1;
export const OP_PUT = 1;
export const OP_DEL = 2;
export type Op = typeof OP_PUT | typeof OP_DEL;
export const ENTRY_HEADER_BYTES = 25;
/** Op-byte flag: a 6-byte expiry follows the header (puts only). */
export const FLAG_EXPIRES = 0x80;
export const EXPIRY_BYTES = 6;
/** The largest expiry the 48-bit field holds (year 10889). */
export const MAX_EXPIRES_AT = 2 ** 48 - 1;

const TWO_32 = 0x1_0000_0000;

/**
 * An entry is a view of its canonical bytes: `bytes[start, end)`, usually a
 * slab shared with other entries (entry/arena.ts). Only origin and key are
 * kept as strings (the store needs the key, and origins are shared); the
 * other fields are read from the bytes when asked. This keeps an entry at one
 * small object, which is most of a key's memory and of recovery time.
 */
export class Entry {
  constructor(
    private readonly bytes: Buffer,
    private readonly start: number,
    private readonly end: number,
    readonly origin: string,
    readonly key: string,
  ) {}

  get op(): Op {
    return (this.bytes[this.start + 1]! & 0x7f) as Op;
  }

  /** Wall-clock ms after which this put is hidden; 0 for an entry without a TTL. */
  get expiresAt(): number {
    if ((this.bytes[this.start + 1]! & FLAG_EXPIRES) === 0) return 0;
    const o = this.start + ENTRY_HEADER_BYTES;
    return this.bytes.readUInt16BE(o) * TWO_32 + this.bytes.readUInt32BE(o + 2);
  }

  /** A put with a TTL whose expiry is at or before `now` (this node's wall clock). */
  expiredAt(now: number): boolean {
    const x = this.expiresAt;
    return x !== 0 && x <= now;
  }

  /** Header bytes before the origin: 25, or 31 with an expiry. */
  private get headerBytes(): number {
    return (this.bytes[this.start + 1]! & FLAG_EXPIRES) === 0 ? ENTRY_HEADER_BYTES : ENTRY_HEADER_BYTES + EXPIRY_BYTES;
  }

  get inc(): number {
    return this.bytes.readUInt32BE(this.start + 3);
  }

  get seq(): number {
    return this.bytes.readUInt32BE(this.start + 7) * TWO_32 + this.bytes.readUInt32BE(this.start + 11);
  }

  get wall(): number {
    return this.bytes.readUInt16BE(this.start + 15) * TWO_32 + this.bytes.readUInt32BE(this.start + 17);
  }

  get logical(): number {
    return this.bytes.readUInt16BE(this.start + 21);
  }

  /** Offset of the value in `raw`. */
  get valueOffset(): number {
    return this.headerBytes + this.bytes[this.start + 2]! + this.bytes.readUInt16BE(this.start + 23);
  }

  /** The canonical bytes (a new view on each call; do not modify). */
  get raw(): Buffer {
    return this.bytes.subarray(this.start, this.end);
  }

  /** Length of the canonical bytes (without making a view). */
  get byteLength(): number {
    return this.end - this.start;
  }

  get value(): Buffer {
    return this.bytes.subarray(this.start + this.valueOffset, this.end);
  }

  get valueLength(): number {
    return this.end - this.start - this.valueOffset;
  }

  /** The replication stream this entry belongs to: one per (origin, incarnation). */
  get stream(): string {
    return streamId(this.origin, this.inc);
  }

  get isDelete(): boolean {
    return this.op === OP_DEL;
  }
}

/** The last stream id made: entries come in long runs of one stream (no string per call). */
let lastStream = { origin: '', inc: -1, id: '' };

export function streamId(origin: string, inc: number): string {
  if (origin !== lastStream.origin || inc !== lastStream.inc) lastStream = { origin, inc, id: `${origin}:${inc}` };
  return lastStream.id;
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
  /** Wall-clock ms after which a put is hidden (puts only; 0 or absent: never). */
  expiresAt?: number | undefined;
}

/** Encode into the entry arena (the bytes become the entry's storage). */
export function encodeEntry(f: EntryFields, keyBytes = Buffer.byteLength(f.key, 'utf8')): Entry {
  const originBytes = f.origin.length; // origins are ASCII (validated at config time)
  const valueLen = f.value ? f.value.length : 0;
  const expires = f.expiresAt !== undefined && f.expiresAt > 0 && f.op === OP_PUT;
  if (expires && (!Number.isSafeInteger(f.expiresAt) || f.expiresAt! > MAX_EXPIRES_AT)) throw new FleetError('TTL_INVALID', `expiry ${f.expiresAt} out of range`);
  const header = expires ? ENTRY_HEADER_BYTES + EXPIRY_BYTES : ENTRY_HEADER_BYTES;
  const valueOffset = header + originBytes + keyBytes;
  const o = reserve(valueOffset + valueLen);
  const buf = reserved;
  buf[o] = KIND_ENTRY;
  buf[o + 1] = expires ? f.op | FLAG_EXPIRES : f.op;
  if (expires) {
    buf.writeUInt16BE(Math.floor(f.expiresAt! / TWO_32), o + ENTRY_HEADER_BYTES);
    buf.writeUInt32BE(f.expiresAt! >>> 0, o + ENTRY_HEADER_BYTES + 2);
  }
  buf[o + 2] = originBytes;
  buf.writeUInt32BE(f.inc, o + 3);
  buf.writeUInt32BE(Math.floor(f.seq / TWO_32), o + 7);
  buf.writeUInt32BE(f.seq >>> 0, o + 11);
  buf.writeUInt16BE(Math.floor(f.wall / TWO_32), o + 15);
  buf.writeUInt32BE(f.wall >>> 0, o + 17);
  buf.writeUInt16BE(f.logical, o + 21);
  buf.writeUInt16BE(keyBytes, o + 23);
  buf.write(f.origin, o + header, originBytes, 'latin1');
  buf.write(f.key, o + header + originBytes, keyBytes, 'utf8');
  if (f.value && valueLen > 0) buf.set(f.value, o + valueOffset);
  return new Entry(buf, o, o + valueOffset + valueLen, f.origin, f.key);
}

/**
 * Decode canonical bytes. `raw` becomes the entry's storage, so pass a buffer
 * the entry may keep (for a view of a large read buffer, use decodeEntryCopy).
 * Throws FRAME_INVALID on anything malformed: a decoder never trusts its input.
 */
export function decodeEntry(raw: Buffer): Entry {
  return decodeAt(raw, 0, raw.length);
}

/** Decode a copy of `src` packed into the entry arena (recovery, large frames). */
export function decodeEntryCopy(src: Uint8Array): Entry {
  const o = reserve(src.length);
  const buf = reserved;
  buf.set(src, o);
  return decodeAt(buf, o, o + src.length);
}

/**
 * Decode a copy of a record this node wrote itself and read back with its
 * CRC checked (recovery of its own log and snapshot): the bytes were
 * validated when they were first decoded or encoded, so they are not
 * validated again (issue 10: recovery bound by reading, not per-entry work).
 * Never for bytes from a peer or a file of unknown origin.
 */
export function decodeTrustedCopy(src: Uint8Array): Entry {
  const o = reserveRecovered(src.length);
  const b = reserved;
  b.set(src, o);
  const header = b[o + 1]! & FLAG_EXPIRES ? ENTRY_HEADER_BYTES + EXPIRY_BYTES : ENTRY_HEADER_BYTES;
  const originLen = b[o + 2]!;
  const keyStart = o + header + originLen;
  const key = b.toString('utf8', keyStart, keyStart + b.readUInt16BE(o + 23));
  return new Entry(b, o, o + src.length, internOrigin(b, o + header, originLen), key);
}

function decodeAt(b: Buffer, o: number, end: number): Entry {
  const length = end - o;
  if (length < ENTRY_HEADER_BYTES) throw invalid(`entry is ${length} bytes, shorter than its header`);
  if (b[o] !== KIND_ENTRY) throw invalid(`record kind ${b[o]} is not an entry`);
  const opByte = b[o + 1]!;
  const op = opByte & 0x7f;
  if ((op !== OP_PUT && op !== OP_DEL) || (opByte & FLAG_EXPIRES && op !== OP_PUT)) throw invalid(`unknown op ${opByte}`);
  const header = opByte & FLAG_EXPIRES ? ENTRY_HEADER_BYTES + EXPIRY_BYTES : ENTRY_HEADER_BYTES;
  if (length < header) throw invalid(`entry is ${length} bytes, shorter than its header`);
  const originLen = b[o + 2]!;
  const keyLen = b.readUInt16BE(o + 23);
  if (originLen === 0 || originLen > 64) throw invalid(`origin length ${originLen}`);
  if (keyLen === 0 || keyLen > 1024) throw invalid(`key length ${keyLen}`);
  const valueOffset = header + originLen + keyLen;
  if (valueOffset > length) throw invalid('entry shorter than its origin and key');
  if (op === OP_DEL && valueOffset !== length) throw invalid('a delete carries no value');
  const seq = b.readUInt32BE(o + 7) * TWO_32 + b.readUInt32BE(o + 11);
  if (seq < 1 || !Number.isSafeInteger(seq)) throw invalid(`seq ${seq} out of range`);
  const key = b.toString('utf8', o + header + originLen, o + valueOffset);
  if (Buffer.byteLength(key, 'utf8') !== keyLen) throw invalid('key is not valid UTF-8');
  try {
    validateKey(key);
  } catch (err) {
    throw invalid((err as Error).message);
  }
  return new Entry(b, o, end, internOrigin(b, o + header, originLen), key);
}

/** The last origin decoded, as bytes and string: one string per origin, not per entry. */
const lastOriginBytes = Buffer.alloc(64);
let lastOriginLen = 0;
let lastOrigin = '';

function internOrigin(b: Buffer, at: number, len: number): string {
  if (len === lastOriginLen) {
    let i = 0;
    while (i < len && b[at + i] === lastOriginBytes[i]) i++;
    if (i === len) return lastOrigin;
  }
  lastOrigin = b.toString('latin1', at, at + len);
  b.copy(lastOriginBytes, 0, at, at + len);
  lastOriginLen = len;
  return lastOrigin;
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
