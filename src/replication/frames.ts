import { decodeEntry, type Entry } from '../entry/entry.js';
import { FleetError } from '../errors.js';
import { RECORD_HEADER_BYTES, scanRecords, writeRecord } from '../log/record.js';

/**
 * Peer wire frames (docs/replication.md, "Protocol"):   u32 length | u8 type | body
 *
 * `length` counts the type byte and the body. ENTRIES bodies carry the log's
 * own record framing (u32 len | u32 crc32 | canonical entry bytes), so what a
 * node stored is shipped unchanged and its CRC is checked end to end.
 */
export const PROTOCOL_VERSION = 1;
export const FRAME_HEADER_BYTES = 5;

export const FRAME = {
  HELLO: 1, // JSON Hello
  AUTH: 2, // JSON { proof }: HMAC answer to the peer's HELLO nonce (docs/adr/0100)
  ENTRIES: 3, // u8 flags | records
  SYNC_DONE: 4, // JSON { vector, full }
  ACK: 5, // JSON { vector }
  PING: 6, // JSON { t }
  PONG: 7, // JSON { t }
  ERROR: 8, // JSON { code, message }
  MQTT_FORWARD: 9, // u8 qos | u16 topic bytes | topic (UTF-8) | payload: a live publish on a mirrored topic (docs/mqtt.md)
} as const;
export type FrameType = (typeof FRAME)[keyof typeof FRAME];

export const FRAME_NAMES: Record<number, string> = Object.fromEntries(Object.entries(FRAME).map(([k, v]) => [v, k]));

/** ENTRIES flag: the entries are part of a catch-up (gaps allowed), not the live stream. */
export const ENTRIES_CATCHUP = 1;

export interface Frame {
  type: number;
  body: Buffer;
}

export function encodeFrame(type: number, body: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  b.writeUInt32BE(1 + body.length, 0);
  b[4] = type;
  b.set(body, FRAME_HEADER_BYTES);
  return b;
}

export function jsonFrame(type: number, body: unknown): Buffer {
  return encodeFrame(type, Buffer.from(JSON.stringify(body), 'utf8'));
}

/** Bytes an entry takes inside an ENTRIES frame (without making a view of its bytes: this runs several times per entry and peer). */
export function entryWireBytes(e: Entry): number {
  return RECORD_HEADER_BYTES + e.byteLength;
}

/** One ENTRIES frame holding `entries` (coalesced: one socket write for many entries). */
export function entriesFrame(entries: readonly Entry[], flags: number): Buffer {
  let size = FRAME_HEADER_BYTES + 1;
  for (const e of entries) size += entryWireBytes(e);
  const b = Buffer.allocUnsafe(size);
  b.writeUInt32BE(size - 4, 0);
  b[4] = FRAME.ENTRIES;
  b[5] = flags;
  let off = FRAME_HEADER_BYTES + 1;
  for (const e of entries) off = writeRecord(b, off, e.raw);
  return b;
}

/** Decode an ENTRIES body; any bad length, CRC or entry throws FRAME_INVALID. */
export function decodeEntries(body: Buffer, maxRecordBytes: number): { flags: number; entries: Entry[] } {
  if (body.length < 1) throw new FleetError('FRAME_INVALID', 'ENTRIES frame without flags');
  const entries: Entry[] = [];
  const scan = scanRecords(body, 1, maxRecordBytes, (payload) => {
    // Copy: the entry keeps its bytes, and must not pin the whole frame buffer.
    entries.push(decodeEntry(Buffer.from(payload)));
  });
  if (!scan.ok) throw new FleetError('FRAME_INVALID', `bad entry record at offset ${scan.end} of an ENTRIES frame: ${scan.reason}`);
  return { flags: body[0]!, entries };
}

/** A live MQTT publish forwarded to a peer's broker (never stored, never forwarded again). */
export interface ForwardBody {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
}

export function forwardFrame(m: ForwardBody): Buffer {
  const topic = Buffer.from(m.topic, 'utf8');
  const body = Buffer.allocUnsafe(3 + topic.length + m.payload.length);
  body[0] = m.qos;
  body.writeUInt16BE(topic.length, 1);
  topic.copy(body, 3);
  body.set(m.payload, 3 + topic.length);
  return encodeFrame(FRAME.MQTT_FORWARD, body);
}

/** Decode an MQTT_FORWARD body; a bad length, QoS or topic throws FRAME_INVALID. */
export function decodeForward(body: Buffer): ForwardBody {
  if (body.length < 3) throw new FleetError('FRAME_INVALID', 'MQTT_FORWARD frame too short');
  const qos = body[0]!;
  const len = body.readUInt16BE(1);
  if ((qos !== 0 && qos !== 1) || len === 0 || 3 + len > body.length) throw new FleetError('FRAME_INVALID', 'MQTT_FORWARD frame with a bad QoS or topic length');
  const raw = body.subarray(3, 3 + len);
  const topic = raw.toString('utf8');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is not allowed in a topic name (MQTT-4.7.3-2), like the wildcards
  if (!Buffer.from(topic, 'utf8').equals(raw) || /[+#\u0000]/.test(topic)) throw new FleetError('FRAME_INVALID', 'MQTT_FORWARD frame with an invalid topic');
  return { topic, payload: Buffer.from(body.subarray(3 + len)), qos };
}

export function parseJsonBody<T>(f: Frame): T {
  try {
    const v = JSON.parse(f.body.toString('utf8')) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as T;
  } catch (err) {
    throw new FleetError('FRAME_INVALID', `${FRAME_NAMES[f.type] ?? f.type} frame body is not a JSON object: ${(err as Error).message}`);
  }
}

/**
 * Splits a byte stream into frames. Throws FRAME_TOO_LARGE for a length over
 * the maximum (before buffering it) and FRAME_INVALID for a zero length.
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private off = 0;
  /** Chunks of a frame larger than what `buf` holds, joined once it is complete. */
  private parts: Buffer[] = [];
  private partsLen = 0;
  private need = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.buf.length - this.off + this.partsLen;
  }

  push(chunk: Buffer): Frame[] {
    if (this.need > 0) {
      // Collecting a large frame: no copy until it is all here.
      this.parts.push(chunk);
      this.partsLen += chunk.length;
      if (this.partsLen < this.need) return [];
      chunk = Buffer.concat(this.parts, this.partsLen);
      this.parts = [];
      this.partsLen = 0;
      this.need = 0;
    } else if (this.buf.length > this.off) {
      chunk = Buffer.concat([this.buf.subarray(this.off), chunk]);
    }
    this.buf = chunk;
    this.off = 0;
    const out: Frame[] = [];
    while (this.buf.length - this.off >= 4) {
      const len = this.buf.readUInt32BE(this.off);
      if (len === 0) throw new FleetError('FRAME_INVALID', 'zero-length frame');
      if (len > this.maxFrameBytes) throw new FleetError('FRAME_TOO_LARGE', `frame length ${len} exceeds the maximum ${this.maxFrameBytes}`);
      if (this.buf.length - this.off - 4 < len) {
        this.need = 4 + len;
        this.parts = [this.buf.subarray(this.off)];
        this.partsLen = this.parts[0]!.length;
        this.buf = Buffer.alloc(0);
        this.off = 0;
        break;
      }
      const start = this.off + FRAME_HEADER_BYTES;
      out.push({ type: this.buf[this.off + 4]!, body: this.buf.subarray(start, this.off + 4 + len) });
      this.off += 4 + len;
    }
    return out;
  }
}
