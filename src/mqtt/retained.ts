import type { Client, Subscription } from 'aedes';
import type { Entry } from '../entry/entry.js';
import { isReservedKey } from '../entry/key.js';
import type { NodeHost } from '../node-host.js';
import { mirrorKeyPrefix, mirrorTopic, type MirrorTopics } from './mirror.js';
import { entryProperties } from './mqtt5.js';
import { nextTurn, TurnBudget } from '../util/turn-budget.js';
import { STATUS_KEY_PREFIX, statusKeyNode, topicMatches, type Topics } from './topics.js';
import { drainOrClose } from '../util/drain.js';

/**
 * Retained messages of `state/` and `nodes/` come from the store, not from
 * the broker (docs/adr/0201): when a client subscribes, every live key whose
 * topic the filter matches is sent to it with the retain flag. The broker
 * keeps no second copy of the fleet state, a restart loses nothing, and a
 * deleted key has nothing to clear.
 *
 * The replay is streamed (docs/mqtt.md, "Slow and stalled clients"; ADR 0204):
 * it walks the store's key index in order, resuming after the last key sent,
 * yields the event loop every TURN_BUDGET_MS and waits for the client's
 * connection to drain when its buffer is full; it never builds the matching
 * set in memory. A client that never drains is dropped by the broker
 * (limits.mqttDrainTimeout), which ends its replay.
 */
export class StoreRetained {
  private readonly stateRoot: string;
  private readonly nodesRoot: string;
  private closed = false;

  constructor(
    private readonly node: NodeHost,
    private readonly topics: Topics,
    private readonly mirror?: MirrorTopics,
    /** The payload a mirrored key is served with (VDA 5050 `connection` from presence). */
    private readonly mirrorPayload: (e: Entry) => Buffer = (e) => e.value,
  ) {
    this.stateRoot = topics.state('');
    this.nodesRoot = topics.node('');
  }

  /** The broker's 'subscribe' event: refused subscriptions come with qos 128. */
  readonly onSubscribe = (subs: Subscription[], client: Client): void => {
    for (const sub of subs) {
      if ((sub.qos as number) === 128) continue;
      this.replay(sub.topic, client).catch((err: unknown) => this.node.logger.warn({ clientId: client.id, err }, 'mqtt: retained replay failed'));
    }
  };

  /** Stop every replay under way (the broker is closing). */
  close(): void {
    this.closed = true;
  }

  /** Send the retained state `filter` matches to `client`, in pages, honouring its connection's backpressure. */
  async replay(filter: string, client: Client): Promise<void> {
    const budget = new TurnBudget();
    const conn = client.conn as unknown as { writableNeedDrain?: boolean; destroyed?: boolean; once(ev: string, cb: () => void): void; off(ev: string, cb: () => void): void };
    const gone = (): boolean => this.closed || client.closed || conn.destroyed === true;
    for (const range of this.ranges(filter)) {
      let after: string | undefined;
      for (;;) {
        let last: string | undefined;
        let finished = true;
        for (const e of this.node.store.list(range.prefix, after)) {
          last = e.key;
          if (range.matches(e)) this.send(client, e);
          if (conn.writableNeedDrain === true || budget.spent()) {
            finished = false;
            break;
          }
        }
        if (finished || last === undefined) break;
        after = last;
        await (conn.writableNeedDrain === true ? drainOrClose(conn) : nextTurn());
        if (gone()) return;
        budget.reset();
      }
    }
  }

  private send(client: Client, e: Entry): void {
    const topic = this.topicOf(e);
    const mirrored = mirrorTopic(e.key) !== undefined;
    const payload = mirrored ? this.mirrorPayload(e) : e.value;
    client.publish({ cmd: 'publish', topic, payload, qos: 0, retain: true, dup: false, ...(mirrored ? {} : { properties: entryProperties(e) }) }, noop);
  }

  /** Live entries whose state, nodes or mirrored topic `filter` matches (all at once: for tests and small sets). */
  *matching(filter: string): Generator<Entry> {
    for (const range of this.ranges(filter)) {
      for (const e of this.node.store.list(range.prefix)) if (range.matches(e)) yield e;
    }
  }

  /** The key ranges (prefixes) of the store a filter may match, each with its exact test. */
  private ranges(filter: string): { prefix: string; matches: (e: Entry) => boolean }[] {
    const out: { prefix: string; matches: (e: Entry) => boolean }[] = [];
    const literal = literalPrefix(filter);
    const statePrefix = keyPrefixUnder(literal, this.stateRoot);
    if (statePrefix !== undefined) out.push({ prefix: statePrefix, matches: (e) => !isReservedKey(e.key) && topicMatches(filter, this.stateRoot + e.key) });
    const nodePrefix = keyPrefixUnder(literal, this.nodesRoot);
    if (nodePrefix !== undefined) out.push({ prefix: STATUS_KEY_PREFIX + nodePrefix, matches: (e) => topicMatches(filter, this.nodesRoot + statusKeyNode(e.key)!) });
    // Mirrored topics (docs/mqtt.md, "Mirrored topics").
    if (this.mirror?.enabled) {
      try {
        const prefix = mirrorKeyPrefix(filter);
        out.push({
          prefix,
          matches: (e) => {
            const topic = mirrorTopic(e.key)!;
            return topicMatches(filter, topic) && this.mirror!.matches(topic);
          },
        });
      } catch {
        // deeper or longer than any mirrored topic can be
      }
    }
    return out;
  }

  private topicOf(e: Entry): string {
    const mirrored = mirrorTopic(e.key);
    if (mirrored !== undefined) return mirrored;
    const id = statusKeyNode(e.key);
    return id === undefined ? this.topics.state(e.key) : this.topics.node(id);
  }
}

// Aedes calls the callback unconditionally (a missing one crashes the process).
function noop(): void {}

/** The part of a filter before its first wildcard. */
function literalPrefix(filter: string): string {
  const i = filter.search(/[+#]/);
  return i < 0 ? filter : filter.slice(0, i);
}

/**
 * The key prefix to list for topics under `root` that a filter with this
 * literal prefix may match, or undefined when it can match none.
 */
function keyPrefixUnder(literal: string, root: string): string | undefined {
  if (literal.startsWith(root)) return literal.slice(root.length);
  if (root.startsWith(literal)) return '';
  return undefined;
}
