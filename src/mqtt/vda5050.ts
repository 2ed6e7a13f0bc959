import type { Entry } from '../entry/entry.js';
import { MIRROR_KEY_PREFIX } from '../entry/key.js';
import type { NodeHost } from '../node-host.js';
import { mirrorTopic } from './mirror.js';
import { presence } from './presence.js';
import type { EntryPublisher } from './publisher.js';

const CHECK_MS = 1000;

/** `<interface>/<version>/<manufacturer>/<serialNumber>/connection` (VDA 5050 2.x, §6.14). */
export function isConnectionTopic(topic: string): boolean {
  const levels = topic.split('/');
  return levels.length === 5 && levels[4] === 'connection';
}

/**
 * The payload a mirrored VDA 5050 `connection` message is shown with
 * (docs/vda5050.md): as written, unless the node whose broker took it (the
 * entry's origin) is not in the fleet now and it says ONLINE; then the same
 * message with `connectionState: "CONNECTIONBROKEN"`. An AGV connects to the
 * broker on its own robot, so when that robot drops off the fleet its last
 * will never fires; presence stands in for it. Anything that is not such a
 * JSON object is shown as written.
 */
export function connectionView(e: Entry, online: (nodeId: string) => boolean): Buffer {
  return brokenConnection(e, online) ?? e.value;
}

/** The CONNECTIONBROKEN form of a mirrored entry when it is to be shown so, or undefined (shown as written). */
function brokenConnection(e: Entry, online: (nodeId: string) => boolean): Buffer | undefined {
  if (online(e.origin)) return undefined;
  const topic = mirrorTopic(e.key);
  if (topic === undefined || !isConnectionTopic(topic)) return undefined;
  let msg: unknown;
  try {
    msg = JSON.parse(e.value.toString('utf8'));
  } catch {
    return undefined;
  }
  if (msg === null || typeof msg !== 'object' || (msg as { connectionState?: unknown }).connectionState !== 'ONLINE') return undefined;
  return Buffer.from(JSON.stringify({ ...msg, connectionState: 'CONNECTIONBROKEN' }));
}

/**
 * Follows presence for mirrored `connection` topics: when the origin of one
 * leaves or rejoins the fleet, subscribers get the message as it is now
 * shown (QoS 1, live). Checked every second.
 */
export class ConnectionPresence {
  /** Keys of connection messages last published as CONNECTIONBROKEN. */
  private readonly broken = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly node: NodeHost,
    private readonly publisher: EntryPublisher,
  ) {}

  /** The view of a mirrored entry for a subscriber (retained, on subscribe). */
  readonly view = (e: Entry): Buffer => connectionView(e, presence(this.node));

  /** The view of a mirrored entry published to every subscriber (what they were last told). */
  readonly published = (e: Entry): Buffer => {
    const v = brokenConnection(e, presence(this.node));
    if (v) this.broken.add(e.key);
    else this.broken.delete(e.key);
    return v ?? e.value;
  };

  start(): void {
    this.timer = setInterval(() => this.check(), CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  check(): void {
    const online = presence(this.node);
    for (const e of this.node.store.list(MIRROR_KEY_PREFIX)) {
      if (!e.key.endsWith('/connection')) continue;
      const topic = mirrorTopic(e.key)!;
      if (!isConnectionTopic(topic)) continue;
      const v = brokenConnection(e, online);
      if ((v !== undefined) === this.broken.has(e.key)) continue;
      if (v) this.broken.add(e.key);
      else this.broken.delete(e.key);
      this.publisher.publishMirrored(topic, v ?? e.value, 1);
    }
    for (const k of this.broken) if (this.node.store.get(k) === undefined) this.broken.delete(k);
  }
}
