import { describe, expect, it } from 'vitest';
import { finishConfig, loadConfig } from '../../src/config/load.js';
import { validateNewKey } from '../../src/entry/key.js';
import { MAX_MIRROR_TOPIC_LEVELS, MirrorTopics, mirrorKey, mirrorKeyPrefix, mirrorTopic } from '../../src/mqtt/mirror.js';
import { topicMatches } from '../../src/mqtt/topics.js';

describe('mirrored topic keys (src/mqtt/mirror.ts)', () => {
  const topics = ['uagv/v2/acme/agv1/connection', 'a//b', '/a', 'a/', '/', '%', 'a/%/b', '50%/x%25', 'é/ü/日本', 'a b/c'];

  it('every topic maps to a valid key and back, one to one', () => {
    const keys = new Set<string>();
    for (const t of topics) {
      const k = mirrorKey(t);
      expect(() => validateNewKey(k)).not.toThrow();
      expect(k.startsWith('_fleetkv/mirror/')).toBe(true);
      expect(mirrorTopic(k)).toBe(t);
      keys.add(k);
    }
    expect(keys.size).toBe(topics.length);
  });

  it('a topic too deep or too long for a key is refused with KEY_INVALID', () => {
    expect(() => mirrorKey(Array(MAX_MIRROR_TOPIC_LEVELS).fill('x').join('/'))).not.toThrow();
    expect(() =>
      mirrorKey(
        Array(MAX_MIRROR_TOPIC_LEVELS + 1)
          .fill('x')
          .join('/'),
      ),
    ).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
    expect(() => mirrorKey('x'.repeat(1100))).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
  });

  it('a subscription filter lists a key prefix that holds every topic it matches', () => {
    for (const f of ['#', 'a/#', 'a/+/b', '+/x%25', 'a//b', '/#', '50%/#']) {
      const p = mirrorKeyPrefix(f);
      for (const t of topics) if (topicMatches(f, t)) expect(mirrorKey(t).startsWith(p)).toBe(true);
    }
  });

  it('filters match topics as MQTT does, never $ topics', () => {
    const m = new MirrorTopics(['uagv/#', '+/status']);
    expect(m.matches('uagv')).toBe(true);
    expect(m.matches('uagv/v2/x')).toBe(true);
    expect(m.matches('ha/status')).toBe(true);
    expect(m.matches('ha/status/x')).toBe(false);
    expect(m.matches('$SYS/status')).toBe(false);
    expect(new MirrorTopics([]).enabled).toBe(false);
  });

  it("mqtt.mirror: FLEETKV_MQTT_MIRROR is comma-separated; filters over fleetkv's own topics, $ topics or bad wildcards are refused at start", () => {
    const cfg = (v: string) => {
      const c = loadConfig({ env: { FLEETKV_MQTT_MIRROR: v, FLEETKV_NODE_ID: 'n' }, file: undefined });
      c.dataDir = '/tmp/unused';
      return finishConfig(c);
    };
    expect(cfg(' vda5050/# , homeassistant/#').mqtt.mirror).toEqual(['vda5050/#', 'homeassistant/#']);
    for (const bad of ['fleet/#', '#', '+/state/x', '$SYS/#', 'a/#/b', 'a+/b']) {
      expect(() => cfg(bad), bad).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('mqtt.mirror') }));
    }
    expect(cfg('fleetx/#').mqtt.mirror).toEqual(['fleetx/#']);
  });
});
