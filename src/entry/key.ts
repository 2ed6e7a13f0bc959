import { FleetError } from '../errors.js';

export const MAX_KEY_BYTES = 1024;
export const MAX_ORIGIN_BYTES = 64;
const ORIGIN_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Key rules (docs/http-api.md, "Keys and values"): UTF-8, 1–1024 bytes, '/'-separated levels, no '+',
 * '#', NUL and no empty level. The rules make every key a valid MQTT topic
 * suffix, so `fleet/state/<key>` works with MQTT wildcards.
 * Returns the key's UTF-8 byte length (callers need it for encoding).
 */
export function validateKey(key: unknown): number {
  if (typeof key !== 'string' || key.length === 0) {
    throw new FleetError('KEY_INVALID', 'key must be a non-empty string');
  }
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw new FleetError('KEY_INVALID', `key is ${bytes} bytes; the limit is ${MAX_KEY_BYTES}`);
  }
  // One pass over the characters; no regex allocation on the hot path.
  let levelStart = true;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 0x2f /* / */) {
      if (levelStart) throw new FleetError('KEY_INVALID', `key "${printable(key)}" has an empty level`);
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
