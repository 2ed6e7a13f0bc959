import type { Client, Subscription } from 'aedes';
import type { Entry } from '../entry/entry.js';
import type { FleetNode } from '../node.js';
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
        client.publish({ cmd: 'publish', topic, payload: e.value, qos: 0, retain: true, dup: false, properties: entryProperties(e) }, noop);
      }
    }
  };

  /** Live entries whose state or nodes topic `filter` matches. */
  *matching(filter: string): Generator<Entry> {
    const literal = literalPrefix(filter);
    const statePrefix = keyPrefixUnder(literal, this.stateRoot);
    if (statePrefix !== undefined) {
      for (const e of this.node.store.list(statePrefix)) {
        if (statusKeyNode(e.key) === undefined && topicMatches(filter, this.stateRoot + e.key)) yield e;
      }
    }
    const nodePrefix = keyPrefixUnder(literal, this.nodesRoot);
    if (nodePrefix !== undefined) {
      for (const e of this.node.store.list(STATUS_KEY_PREFIX + nodePrefix)) {
        if (topicMatches(filter, this.nodesRoot + statusKeyNode(e.key)!)) yield e;
      }
    }
  }

  private topicOf(e: Entry): string {
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
