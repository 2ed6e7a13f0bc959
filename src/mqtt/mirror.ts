import { MAX_KEY_BYTES, MAX_KEY_LEVELS, MIRROR_KEY_PREFIX } from '../entry/key.js';
import { FleetError } from '../errors.js';
import { topicMatches } from './topics.js';

/** Levels of the mirror key prefix (`_fleetkv/mirror/`). */
const PREFIX_LEVELS = MIRROR_KEY_PREFIX.split('/').length - 1;
/** The deepest topic that fits in a key. */
export const MAX_MIRROR_TOPIC_LEVELS = MAX_KEY_LEVELS - PREFIX_LEVELS;

/**
 * Mirrored topics (`mqtt.mirror`, docs/mqtt.md "Mirrored topics"): which
 * topics are mirrored, and how a topic maps to its key and back.
 *
 * Key encoding: `_fleetkv/mirror/` + the topic's levels, each escaped:
 * `%` becomes `%25`, an empty level becomes `%` alone. Topics may have empty
 * levels (`a//b`, `/a`, `a/`), which keys may not; a level that is exactly `%`
 * cannot come from a non-empty level (its `%` would be `%25`), so the mapping
 * is one to one. Everything else a topic may hold is also valid in a key (no
 * `+`, `#` or NUL in a topic name). A topic deeper than 62 levels, or whose
 * key would exceed 1024 bytes, cannot be mirrored: its retained publish is
 * refused with KEY_INVALID.
 */
export class MirrorTopics {
  constructor(readonly filters: readonly string[]) {}

  get enabled(): boolean {
    return this.filters.length > 0;
  }

  /** Is `topic` (a topic name) mirrored? `$` topics never are. */
  matches(topic: string): boolean {
    if (topic.startsWith('$')) return false;
    for (const f of this.filters) if (topicMatches(f, topic)) return true;
    return false;
  }
}

/** The key that holds a mirrored topic's retained message; throws KEY_INVALID when it cannot be one. */
export function mirrorKey(topic: string): string {
  const levels = topic.split('/');
  if (levels.length > MAX_MIRROR_TOPIC_LEVELS) {
    throw new FleetError('KEY_INVALID', `topic has ${levels.length} levels; a mirrored topic may have at most ${MAX_MIRROR_TOPIC_LEVELS}`);
  }
  const key = MIRROR_KEY_PREFIX + levels.map((l) => (l === '' ? '%' : l.replaceAll('%', '%25'))).join('/');
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) throw new FleetError('KEY_INVALID', `mirrored topic is too long: its key would be ${bytes} bytes; the limit is ${MAX_KEY_BYTES}`);
  return key;
}

/** The topic of a mirror key, or undefined when the key is not one. */
export function mirrorTopic(key: string): string | undefined {
  if (!key.startsWith(MIRROR_KEY_PREFIX)) return undefined;
  return key
    .slice(MIRROR_KEY_PREFIX.length)
    .split('/')
    .map((l) => (l === '%' ? '' : l.replaceAll('%25', '%')))
    .join('/');
}

/**
 * The key prefix to list for the mirrored topics a subscription filter may
 * match: the filter's whole levels before its first wildcard, encoded.
 */
export function mirrorKeyPrefix(filter: string): string {
  const levels = filter.split('/');
  const literal: string[] = [];
  for (const l of levels) {
    if (l === '+' || l === '#') break;
    literal.push(l);
  }
  if (literal.length === levels.length) return mirrorKey(filter); // no wildcard: that one key
  if (literal.length === 0) return MIRROR_KEY_PREFIX;
  // No trailing '/': `a/#` matches `a` itself; what else the prefix lists is filtered by the caller.
  return MIRROR_KEY_PREFIX + literal.map((l) => (l === '' ? '%' : l.replaceAll('%', '%25'))).join('/');
}
