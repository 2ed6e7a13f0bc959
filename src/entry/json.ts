import { isUtf8 } from 'node:buffer';
import type { Entry } from './entry.js';
import { isExpiryEvent } from './expiry-event.js';
import { formatHlc } from './hlc.js';

/** JSON form of an entry for listings and watch events; binary values go as base64. */
export function entryJson(e: Entry): Record<string, unknown> {
  const v = e.value;
  const text = isUtf8Text(v) ? v.toString('utf8') : undefined;
  return {
    key: e.key,
    op: e.isDelete ? 'del' : 'put',
    ...(e.isDelete ? {} : text !== undefined ? { value: text } : { value: v.toString('base64'), encoding: 'base64' }),
    origin: e.origin,
    inc: e.inc,
    seq: e.seq,
    hlc: formatHlc(e.wall, e.logical),
    ...(e.expiresAt > 0 ? { expiresAt: new Date(e.expiresAt).toISOString() } : {}),
    ...(isExpiryEvent(e) ? { expired: true } : {}),
  };
}

export function isUtf8Text(b: Buffer): boolean {
  // Control characters other than tab/newline mean binary.
  if (!isUtf8(b)) return false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return true;
}

/**
 * `JSON.stringify(entryJson(e))`, the same text, built directly (no object per
 * entry): the form of every watch event and MQTT log envelope, on the path
 * from an applied entry to its watchers.
 */
export function entryJsonText(e: Entry): string {
  let s = `{"key":${JSON.stringify(e.key)},"op":"${e.isDelete ? 'del' : 'put'}"`;
  if (!e.isDelete) {
    const v = e.value;
    s += isUtf8Text(v) ? `,"value":${JSON.stringify(v.toString('utf8'))}` : `,"value":"${v.toString('base64')}","encoding":"base64"`;
  }
  s += `,"origin":${JSON.stringify(e.origin)},"inc":${e.inc},"seq":${e.seq},"hlc":"${formatHlc(e.wall, e.logical)}"`;
  if (e.expiresAt > 0) s += `,"expiresAt":"${new Date(e.expiresAt).toISOString()}"`;
  if (isExpiryEvent(e)) s += ',"expired":true';
  return `${s}}`;
}
