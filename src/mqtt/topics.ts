/**
 * The topic contract of the MQTT bridge (docs/mqtt.md): which
 * topic carries what, and how a key maps to a topic and back. Keys are valid
 * topic suffixes by construction (src/entry/key.ts), so the mapping is plain
 * concatenation and MQTT wildcards work on keys.
 */

import { STATUS_KEY_PREFIX } from '../entry/key.js';

/** Key prefix of the node status records (docs/adr/0200): published on `nodes/`, never on `state/`. */
export { STATUS_KEY_PREFIX };

/** Topic kinds only the bridge publishes; a client publish to one is refused. */
const DERIVED = ['state', 'log', 'nodes', 'errors', 'conflicts'] as const;

/** `ttl`: the duration as written in a `<prefix>/ttl/<ttl>/<key>` topic (parsed by the node). */
export type Command = { op: 'set' | 'delete'; key: string; ttl?: string };

export class Topics {
  private readonly derived: string[];
  private readonly setPrefix: string;
  private readonly deletePrefix: string;
  private readonly ttlPrefix: string;

  constructor(readonly prefix: string) {
    this.derived = DERIVED.map((d) => `${prefix}/${d}`);
    this.setPrefix = `${prefix}/set/`;
    this.deletePrefix = `${prefix}/delete/`;
    this.ttlPrefix = `${prefix}/ttl/`;
  }

  state(key: string): string {
    return `${this.prefix}/state/${key}`;
  }

  log(origin: string): string {
    return `${this.prefix}/log/${origin}`;
  }

  node(nodeId: string): string {
    return `${this.prefix}/nodes/${nodeId}`;
  }

  get conflicts(): string {
    return `${this.prefix}/conflicts`;
  }

  errors(clientId: string): string {
    return `${this.prefix}/errors/${topicLevel(clientId)}`;
  }

  /** The command a topic names, or undefined. The key is not validated here. */
  command(topic: string): Command | undefined {
    if (topic.startsWith(this.setPrefix)) return { op: 'set', key: topic.slice(this.setPrefix.length) };
    if (topic.startsWith(this.deletePrefix)) return { op: 'delete', key: topic.slice(this.deletePrefix.length) };
    if (topic.startsWith(this.ttlPrefix)) {
      // <prefix>/ttl/<ttl>/<key>: a set whose key expires (MQTT 3.1.1 has no message expiry; docs/mqtt.md).
      const rest = topic.slice(this.ttlPrefix.length);
      const slash = rest.indexOf('/');
      return { op: 'set', key: slash < 0 ? '' : rest.slice(slash + 1), ttl: slash < 0 ? rest : rest.slice(0, slash) };
    }
    return undefined;
  }

  /** The topic the write ACL judges: a TTL set is judged as the set of its key (`<prefix>/set/<key>`). */
  aclTopic(topic: string): string {
    if (!topic.startsWith(this.ttlPrefix)) return topic;
    const c = this.command(topic)!;
    return this.setPrefix + c.key;
  }

  /** Is this a topic only the bridge may publish to (the kind itself or anything below it)? */
  isDerived(topic: string): boolean {
    for (const d of this.derived) {
      if (topic === d || (topic.startsWith(d) && topic.charCodeAt(d.length) === 0x2f)) return true;
    }
    return false;
  }
}

/** Client ids and user names are free text; '+', '#' and '/' would change a topic's meaning, so they become '_'. */
export function topicLevel(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL cannot be in a topic, so it is replaced like the wildcards
  return name.replace(/[+#/\u0000]/g, '_') || '_';
}

/** The node id of a status record key, or undefined when the key is not one. */
export function statusKeyNode(key: string): string | undefined {
  return key.startsWith(STATUS_KEY_PREFIX) ? key.slice(STATUS_KEY_PREFIX.length) : undefined;
}

/** Does `topic` match the MQTT topic filter `filter` (+ one level, # the rest)? */
export function topicMatches(filter: string, topic: string): boolean {
  return filterCovers(filter, topic, false);
}

/**
 * Is every topic that `inner` (a filter) can match also matched by `outer`?
 * Decides whether a subscription stays within an ACL rule: `fleet/state/+/pose`
 * is within `fleet/state/#`, but `fleet/#` is not.
 */
export function filterWithin(inner: string, outer: string): boolean {
  return filterCovers(outer, inner, true);
}

function filterCovers(outer: string, inner: string, innerIsFilter: boolean): boolean {
  // MQTT-4.7.2-1: filters starting with a wildcard do not match topics starting with '$'.
  if (inner.startsWith('$') && (outer.startsWith('+') || outer.startsWith('#'))) return false;
  const o = outer.split('/');
  const i = inner.split('/');
  for (let n = 0; n < o.length; n++) {
    const ol = o[n]!;
    if (ol === '#') return true;
    const il = i[n];
    if (il === undefined) return false;
    if (innerIsFilter && il === '#') return false;
    if (ol === '+') continue;
    if (innerIsFilter && il === '+') return false;
    if (ol !== il) return false;
  }
  return o.length === i.length;
}
