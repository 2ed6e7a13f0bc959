import { crc32 } from 'node:zlib';
import { type Entry, parseStreamId } from '../entry/entry.js';
import { FleetError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { ReadonlyVector, VectorObject } from '../store/vector.js';

/**
 * Twins that share an incarnation (docs/adr/0002, "Twins with one
 * incarnation"): two live nodes with one id and one stream, writing at the
 * same pace through different peers. No vector shows a seq one of them did
 * not stamp, and the relay never sends a node entries of an origin it is
 * connected to, so only content tells them apart: two different entries
 * under one (origin, inc, seq).
 *
 * An ACK carries, for each stream whose seq moved since the last ACK on that
 * link, a stamp of the newest entry held of it: its seq and a CRC-32 of its
 * canonical bytes (a resend of one entry is byte for byte the same), plus the
 * origin's HELLO `started` and `instance` when the sender is connected to the
 * origin. The receiver compares it with the entry it holds at that seq.
 */
export interface Stamp {
  /** Seq of the stamped entry. */
  s: number;
  /** CRC-32 of its canonical bytes. */
  c: number;
  /** The origin's HELLO `started`, when the sender is connected to the origin. */
  t?: number;
  /** The origin's HELLO `instance`, with `t`. */
  i?: string;
}
export type Stamps = Record<string, Stamp>;

/** The content check of one entry: a CRC-32 of its canonical bytes. */
export function entryStamp(e: Entry): number {
  return crc32(e.raw);
}

/** Whether `held` and an entry stamped `stamp` at the same (stream, seq) are two different entries. */
export function differs(held: Entry, stamp: number): boolean {
  return entryStamp(held) !== stamp;
}

/**
 * Stamps for an ACK: each stream of `vector` whose seq differs from `previous`
 * (the last ACK on the link; all streams when none), except streams of
 * `skipOrigin` (the receiver's own: it wrote them), with the newest current
 * entry held at or below the vector's seq (none held: no stamp).
 */
export function stampsFor(
  store: Pick<Store, 'entryAt' | 'newestOf'>,
  vector: ReadonlyVector,
  previous: ReadonlyVector | undefined,
  skipOrigin: string | undefined,
  originHello: (origin: string) => { started?: number; instance: string } | undefined,
): Stamps | undefined {
  let out: Stamps | undefined;
  for (const [stream, seq] of vector.map) {
    if (previous !== undefined && previous.get(stream) === seq) continue;
    const { origin } = parseStreamId(stream);
    if (origin === skipOrigin) continue;
    const e = store.newestOf(stream, seq);
    if (e === undefined) continue;
    const stamp: Stamp = { s: e.seq, c: entryStamp(e) };
    const h = originHello(origin);
    if (h?.started !== undefined) {
      stamp.t = h.started;
      stamp.i = h.instance;
    }
    out ??= {};
    out[stream] = stamp;
  }
  return out;
}

/** Check an ACK's `stamps` field (absent from older peers); only streams of the ACK's vector count. */
export function parseStamps(v: unknown, vector: VectorObject): Stamps {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new FleetError('FRAME_INVALID', 'ACK with invalid stamps');
  const out: Stamps = {};
  for (const [stream, st] of Object.entries(v as Record<string, unknown>)) {
    const x = st as Partial<Stamp> | null;
    const ok =
      x !== null &&
      typeof x === 'object' &&
      Number.isSafeInteger(x.s) &&
      (x.s as number) > 0 &&
      Number.isInteger(x.c) &&
      (x.c as number) >= 0 &&
      (x.c as number) <= 0xffffffff &&
      (x.t === undefined || (Number.isSafeInteger(x.t) && (x.t as number) >= 0)) &&
      (x.i === undefined || (typeof x.i === 'string' && x.i.length > 0 && x.i.length <= 64));
    if (!ok) throw new FleetError('FRAME_INVALID', `ACK with an invalid stamp for ${stream.slice(0, 80)}`);
    if (vector[stream] === undefined || (x.s as number) > (vector[stream] as number)) continue;
    out[stream] = x as Stamp;
  }
  return out;
}

/**
 * The stamps that name an entry held here at the same seq with other content:
 * each one is a twin (two writers of one stream). A seq not applied here, or
 * whose entry was replaced since, cannot be compared (a later one will be).
 */
export function clashes(store: Pick<Store, 'entryAt' | 'newestOf'>, applied: ReadonlyVector, stamps: Stamps): { stream: string; stamp: Stamp; held: Entry }[] {
  const out: { stream: string; stamp: Stamp; held: Entry }[] = [];
  for (const [stream, stamp] of Object.entries(stamps)) {
    if (!applied.covers(stream, stamp.s)) continue;
    const held = store.entryAt(stream, stamp.s);
    if (held !== undefined && differs(held, stamp.c)) out.push({ stream, stamp, held });
  }
  return out;
}
