import type { Client, Subscription } from 'aedes';
import type { Entry } from '../entry/entry.js';
import { isReservedKey } from '../entry/key.js';
import type { FleetNode } from '../node.js';
import { mirrorKeyPrefix, mirrorTopic, type MirrorTopics } from './mirror.js';
import { entryProperties } from './mqtt5.js';
import { STATUS_KEY_PREFIX, statusKeyNode, topicMatches, type Topics } from './topics.js';

/**
 * Retained messages of `state/` and `nodes/` come from the store, not from
 * the broker (docs/adr/0201): when a client subscribes, every live key whose
 * topic the filter matches is sent to it with the retain flag. The broker
 * keeps no second copy of the fleet state, a restart loses nothing, and a
 * deleted key has nothing to clear.
 */
export class StoreRetained {
  private readonly stateRoot: string;
  private readonly nodesRoot: string;

  constructor(
    private readonly node: FleetNode,
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
      for (const e of this.matching(sub.topic)) {
        const topic = this.topicOf(e);
        const mirrored = mirrorTopic(e.key) !== undefined;
        const payload = mirrored ? this.mirrorPayload(e) : e.value;
        client.publish({ cmd: 'publish', topic, payload, qos: 0, retain: true, dup: false, ...(mirrored ? {} : { properties: entryProperties(e) }) }, noop);
      }
    }
  };

  /** Live entries whose state, nodes or mirrored topic `filter` matches. */
  *matching(filter: string): Generator<Entry> {
    const literal = literalPrefix(filter);
    const statePrefix = keyPrefixUnder(literal, this.stateRoot);
    if (statePrefix !== undefined) {
      for (const e of this.node.store.list(statePrefix)) {
        if (!isReservedKey(e.key) && topicMatches(filter, this.stateRoot + e.key)) yield e;
      }
    }
    const nodePrefix = keyPrefixUnder(literal, this.nodesRoot);
    if (nodePrefix !== undefined) {
      for (const e of this.node.store.list(STATUS_KEY_PREFIX + nodePrefix)) {
        if (topicMatches(filter, this.nodesRoot + statusKeyNode(e.key)!)) yield e;
      }
    }
    if (this.mirror?.enabled) yield* this.mirrored(filter);
  }

  /** Live mirrored topics (docs/mqtt.md, "Mirrored topics") that `filter` matches. */
  private *mirrored(filter: string): Generator<Entry> {
    let prefix: string;
    try {
      prefix = mirrorKeyPrefix(filter);
    } catch {
      return; // deeper or longer than any mirrored topic can be
    }
    for (const e of this.node.store.list(prefix)) {
      const topic = mirrorTopic(e.key)!;
      if (topicMatches(filter, topic) && this.mirror!.matches(topic)) yield e;
    }
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
