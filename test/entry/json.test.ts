import { describe, expect, it } from 'vitest';
import { OP_DEL, OP_PUT, encodeEntry } from '../../src/entry/entry.js';
import { expiryEvent } from '../../src/entry/expiry-event.js';
import { entryJson, entryJsonText } from '../../src/entry/json.js';

/** The watch event / MQTT log envelope text is built directly: it must be JSON.stringify(entryJson(e)), byte for byte. */
describe('entryJsonText', () => {
  const base = { origin: 'robot-7', inc: 1_765_000_000, seq: 42, wall: 1_765_432_109_876, logical: 3 };
  const cases = {
    'a text put': encodeEntry({ ...base, op: OP_PUT, key: 'robots/r1/pose', value: Buffer.from('{"x":1.5,"y":"a\\"b"}\n\tü 😀') }),
    'a binary put': encodeEntry({ ...base, op: OP_PUT, key: 'blobs/b', value: Buffer.from([0, 1, 2, 255, 0x1b]) }),
    'an empty put': encodeEntry({ ...base, op: OP_PUT, key: 'e', value: Buffer.alloc(0) }),
    'a delete': encodeEntry({ ...base, op: OP_DEL, key: 'robots/r1/pose' }),
    'a put with a TTL': encodeEntry({ ...base, op: OP_PUT, key: 'hb', value: Buffer.from('alive'), expiresAt: base.wall + 5000 }),
    'an expiry event': expiryEvent(encodeEntry({ ...base, op: OP_PUT, key: 'hb', value: Buffer.from('alive'), expiresAt: base.wall + 5000 })),
    'a key and origin that JSON escapes': encodeEntry({ ...base, origin: 'n"1\\', op: OP_PUT, key: 'a"b\\c/ü', value: Buffer.from('v') }),
    'a large hlc': encodeEntry({ ...base, wall: 2 ** 47 + 12345, logical: 65535, op: OP_PUT, key: 'k', value: Buffer.from('v') }),
  };
  for (const [name, e] of Object.entries(cases)) {
    it(`${name}: the same text as JSON.stringify(entryJson(e))`, () => {
      expect(entryJsonText(e)).toBe(JSON.stringify(entryJson(e)));
      expect(JSON.parse(entryJsonText(e))).toEqual(entryJson(e));
    });
  }
});
