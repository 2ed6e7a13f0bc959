import { OP_DEL, encodeEntry, type Entry } from './entry.js';

/** The delete events told to watchers when a put expires (not in the log: the tombstone is its own entry). */
const expiryEvents = new WeakSet<Entry>();

/**
 * The event for "this put expired": a delete of its key with the put's
 * stamp (origin, inc, seq, hlc), marked so listings can say `expired: true`.
 */
export function expiryEvent(put: Entry): Entry {
  const e = encodeEntry({ origin: put.origin, inc: put.inc, seq: put.seq, wall: put.wall, logical: put.logical, op: OP_DEL, key: put.key });
  expiryEvents.add(e);
  return e;
}

export function isExpiryEvent(e: Entry): boolean {
  return expiryEvents.has(e);
}
