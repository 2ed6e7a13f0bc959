import type { Aedes, PublishPacket } from 'aedes';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { OP_DEL, OP_PUT, encodeEntry, type Entry } from '../../src/entry/entry.js';
import { MqttMetrics } from '../../src/mqtt/metrics.js';
import { EntryPublisher } from '../../src/mqtt/publisher.js';
import { StoreRetained } from '../../src/mqtt/retained.js';
import { Topics } from '../../src/mqtt/topics.js';
import type { FleetNode } from '../../src/node.js';
import { Store } from '../../src/store/store.js';

/** The publisher alone, on a recording broker: which message each applied entry becomes. */
function setup(): { apply: (e: Entry, source?: 'local' | 'remote') => void; sent: PublishPacket[]; publisher: EntryPublisher; store: Store } {
  const sent: PublishPacket[] = [];
  const broker = { publish: (p: PublishPacket, cb: () => void) => (sent.push(p), setImmediate(cb)) } as unknown as Aedes;
  const store = new Store();
  const node = { store, nodeId: 'me', config: { maxClockSkew: 60_000 }, logger: pino({ level: 'silent' }) } as unknown as FleetNode;
  const publisher = new EntryPublisher(
    broker,
    new Topics('fleet'),
    node,
    new MqttMetrics(
      new Registry(),
      () => 0,
      () => 0,
    ),
  );
  const apply = (e: Entry, source: 'local' | 'remote' = 'remote'): void => {
    const result = store.apply(e);
    publisher.onApplied(e, result, store.lastOther, source);
  };
  return { apply, sent, publisher, store };
}

let seq = 0;
const entry = (origin: string, wall: number, key: string, value?: string): Entry =>
  encodeEntry({ origin, inc: 1, seq: ++seq, wall, logical: 0, op: value === undefined ? OP_DEL : OP_PUT, key, value: value === undefined ? undefined : Buffer.from(value) });

const json = (p: PublishPacket): Record<string, any> => JSON.parse(p.payload.toString()) as Record<string, any>;

describe('EntryPublisher', () => {
  it('publishes a won put as log + state, and a delete as an empty state payload', () => {
    const { apply, sent } = setup();
    apply(entry('a', 1000, 'robots/r1/pose', '1,2'));
    apply(entry('a', 1001, 'robots/r1/pose'));
    expect(sent.map((p) => [p.topic, p.retain, p.payload.toString()])).toEqual([
      ['fleet/log/a', false, expect.stringContaining('"value":"1,2"')],
      ['fleet/state/robots/r1/pose', false, '1,2'],
      ['fleet/log/a', false, expect.stringContaining('"op":"del"')],
      ['fleet/state/robots/r1/pose', false, ''],
    ]);
    expect(json(sent[0]!)).toMatchObject({ origin: 'a', seq: expect.any(Number), hlc: String(1000 * 65536), op: 'put', key: 'robots/r1/pose', value: '1,2' });
  });

  it('sends an entry that lost LWW to the log only, and reports the conflict', () => {
    const { apply, sent } = setup();
    apply(entry('b', 5000, 'k', 'new'));
    sent.length = 0;
    apply(entry('a', 4000, 'k', 'old'));
    expect(sent.map((p) => p.topic)).toEqual(['fleet/log/a', 'fleet/conflicts']);
    expect(json(sent[1]!)).toMatchObject({ key: 'k', reason: 'superseded', winner: { origin: 'b', hlc: String(5000 * 65536) }, loser: { origin: 'a', hlc: String(4000 * 65536) }, detectedBy: 'me' });
  });

  it('reports a value replaced by another origin within maxClockSkew, not one replaced by its own origin or long after', () => {
    const { apply, sent } = setup();
    apply(entry('a', 1000, 'k', 'x'));
    apply(entry('a', 2000, 'k', 'y'));
    apply(entry('b', 3000, 'k', 'z'));
    apply(entry('a', 3000 + 61_000, 'k', 'w'));
    const conflicts = sent.filter((p) => p.topic === 'fleet/conflicts').map(json);
    expect(conflicts).toEqual([expect.objectContaining({ reason: 'concurrent', winner: expect.objectContaining({ origin: 'b' }), loser: expect.objectContaining({ origin: 'a' }) })]);
  });

  it('publishes status records on nodes/<id>, never on state/, and serves retained state from the store', () => {
    const { apply, sent, store } = setup();
    apply(entry('r2', 1000, '_fleetkv/nodes/r2', '{"online":true}'));
    apply(entry('a', 1000, 'gone', 'x'));
    apply(entry('a', 1001, 'gone'));
    apply(entry('a', 1000, 'robots/r1/pose', 'p1'));
    apply(entry('a', 1000, 'robots/r2/pose', 'p2'));
    apply(entry('a', 1000, 'robots/r2/mode', 'm2'));
    expect(sent.filter((p) => !p.topic.startsWith('fleet/log/')).map((p) => [p.topic, p.retain])).toEqual([
      ['fleet/nodes/r2', false],
      ['fleet/state/gone', false],
      ['fleet/state/gone', false],
      ['fleet/state/robots/r1/pose', false],
      ['fleet/state/robots/r2/pose', false],
      ['fleet/state/robots/r2/mode', false],
    ]);
    const retained = new StoreRetained({ store } as unknown as FleetNode, new Topics('fleet'));
    const keys = (filter: string): string[] => [...retained.matching(filter)].map((e) => e.key);
    expect(keys('fleet/state/#')).toEqual(['robots/r1/pose', 'robots/r2/mode', 'robots/r2/pose']);
    expect(keys('fleet/state/robots/+/pose')).toEqual(['robots/r1/pose', 'robots/r2/pose']);
    expect(keys('fleet/state/robots/r1/pose')).toEqual(['robots/r1/pose']);
    expect(keys('fleet/state/gone')).toEqual([]);
    expect(keys('fleet/nodes/+')).toEqual(['_fleetkv/nodes/r2']);
    expect(keys('#')).toEqual(['robots/r1/pose', 'robots/r2/mode', 'robots/r2/pose', '_fleetkv/nodes/r2']);
    expect(keys('fleet/log/#')).toEqual([]);
    expect(keys('other/state/#')).toEqual([]);
  });

  it('while the broker is behind, publishes a key changed many times once, with its latest value, and every log entry', async () => {
    const { apply, sent, publisher } = setup();
    for (let i = 0; i < 100; i++) apply(entry('a', 1000 + i, `k${i}`, 'x'));
    for (let i = 1; i <= 10; i++) apply(entry('a', 2000 + i, 'hot', String(i)));
    expect(publisher.pending).toBeGreaterThan(0);
    await publisher.drained();
    expect(sent.filter((p) => p.topic === 'fleet/state/hot').map((p) => p.payload.toString())).toEqual(['10']);
    expect(sent.filter((p) => p.topic === 'fleet/log/a' && json(p).key === 'hot')).toHaveLength(10);
    expect(sent.filter((p) => p.topic.startsWith('fleet/state/k'))).toHaveLength(100);
  });
});
