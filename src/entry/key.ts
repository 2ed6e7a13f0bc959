import { FleetError } from '../errors.js';

export const MAX_KEY_BYTES = 1024;
/**
 * Most '/'-separated levels in a key. A key is published as
 * `<prefix>/state/<key>`, and MQTT brokers bound a topic's depth (Aedes: 100
 * levels, a hard ceiling of its topic matcher): a deeper key could be stored but
 * never published, and its subscribers would silently miss it. 64 leaves room
 * for `mqtt.prefix` (config refuses a prefix that would not fit).
 */
export const MAX_KEY_LEVELS = 64;
/** Keys under this prefix are fleetkv's own (node status records, docs/adr/0200): no client writes them. */
export const RESERVED_KEY_PREFIX = '_fleetkv/';
/** Key prefix of the node status records: `_fleetkv/nodes/<nodeId>`, written by each node for itself. */
export const STATUS_KEY_PREFIX = `${RESERVED_KEY_PREFIX}nodes/`;
/** Key prefix of mirrored MQTT topics (`mqtt.mirror`, docs/mqtt.md "Mirrored topics"): written by the broker only. */
export const MIRROR_KEY_PREFIX = `${RESERVED_KEY_PREFIX}mirror/`;
export const MAX_ORIGIN_BYTES = 64;
const ORIGIN_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Key rules (docs/http-api.md, "Keys and values"): UTF-8, 1–1024 bytes, '/'-separated levels, no '+',
 * '#', NUL and no empty level. The rules make every key a valid MQTT topic
 * suffix, so `fleet/state/<key>` works with MQTT wildcards.
 * Returns the key's UTF-8 byte length (callers need it for encoding).
 *
 * This is what every stored or received entry must satisfy (decoding checks
 * it). A new write must also satisfy validateNewKey.
 */
export function validateKey(key: unknown): number {
  return scanKey(key, Infinity);
}

/**
 * The rules for a key being written now (every writer: HTTP, MQTT, uplink,
 * library): validateKey's, and at most MAX_KEY_LEVELS levels. Entries already
 * stored or written by an older node are not refused for their depth.
 */
export function validateNewKey(key: unknown): number {
  return scanKey(key, MAX_KEY_LEVELS);
}

function scanKey(key: unknown, maxLevels: number): number {
  if (typeof key !== 'string' || key.length === 0) {
    throw new FleetError('KEY_INVALID', 'key must be a non-empty string');
  }
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw new FleetError('KEY_INVALID', `key is ${bytes} bytes; the limit is ${MAX_KEY_BYTES}`);
  }
  // One pass over the characters; no regex allocation on the hot path.
  let levelStart = true;
  let levels = 1;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 0x2f /* / */) {
      if (levelStart) throw new FleetError('KEY_INVALID', `key "${printable(key)}" has an empty level`);
      if (++levels > maxLevels) throw new FleetError('KEY_INVALID', `key "${printable(key)}" has more than ${maxLevels} levels (MQTT topics are at most 100 levels deep)`);
      levelStart = true;
      continue;
    }
    if (c === 0x2b /* + */ || c === 0x23 /* # */) {
      throw new FleetError('KEY_INVALID', `key "${printable(key)}" contains '${String.fromCharCode(c)}' (MQTT wildcard)`);
    }
    if (c === 0) throw new FleetError('KEY_INVALID', 'key contains a NUL character');
    if (c >= 0xd800 && c <= 0xdfff) {
      // A lone surrogate cannot be encoded as UTF-8; a valid pair can.
      const next = key.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
      else throw new FleetError('KEY_INVALID', 'key is not valid UTF-8 (lone surrogate)');
    }
    levelStart = false;
  }
  if (levelStart) throw new FleetError('KEY_INVALID', `key "${printable(key)}" has an empty level`);
  return bytes;
}

/** Is this key fleetkv's own (under `_fleetkv/`)? Such keys are refused for every writer but the node itself. */
export function isReservedKey(key: string): boolean {
  return key.startsWith(RESERVED_KEY_PREFIX);
}

export function isValidKey(key: unknown): boolean {
  try {
    validateKey(key);
    return true;
  } catch {
    return false;
  }
}

export function validateNodeId(id: unknown): string {
  if (typeof id !== 'string' || !ORIGIN_RE.test(id)) {
    throw new FleetError('CONFIG_INVALID', `node id "${String(id)}" must be 1–64 characters of [A-Za-z0-9_.-]`);
  }
  return id;
}

/** Turn a host name into a valid node id (host names may hold other characters). */
export function nodeIdFromHostname(host: string): string {
  const cleaned = host.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, MAX_ORIGIN_BYTES);
  return cleaned.length > 0 ? cleaned : 'node';
}

function printable(key: string): string {
  return key.length > 80 ? `${key.slice(0, 77)}...` : key;
}
