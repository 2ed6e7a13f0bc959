import type { Aedes, PublishPacket } from 'aedes';
import type { Entry } from '../entry/entry.js';
import { describeConflict } from '../conflicts.js';
import { entryJsonText } from '../entry/json.js';
import type { ApplySource, NodeHost } from '../node-host.js';
import type { ApplyResult } from '../store/store.js';
import { TurnBudget } from '../util/turn-budget.js';
import type { MqttMetrics } from './metrics.js';
import { mirrorTopic } from './mirror.js';
import { entryProperties } from './mqtt5.js';
import { statusKeyNode, type Topics } from './topics.js';

const EMPTY = Buffer.alloc(0);
/**
 * Publishes in the broker at once. Aedes' emitter queues anything above its
 * concurrency (100) in an array it shifts from, which turns quadratic when the
 * broker falls behind (bench: 2k msg/s at 100k queued), so the queue is ours.
 */
const MAX_IN_FLIGHT = 100;
/** At most one "dropped" warning per this many ms (the count is in the metric and the line). */
const DROP_LOG_EVERY_MS = 10_000;

type Kind = 'log' | 'state' | 'nodes' | 'conflicts' | 'errors' | 'mirror';
/** A message to send, or a key whose current state is to be published. */
type Properties = PublishPacket['properties'];
type Job = { topic: string; payload: Buffer; kind: Kind; retain?: boolean; properties?: Properties; qos?: 0 | 1 } | string;

/**
 * Publishes every applied entry, local or replicated, on the broker (docs/mqtt.md, "Topics"):
 * `log/<origin>` always (JSON envelope), `state/<key>` when it won (a delete
 * as an empty payload), `nodes/<id>` for status records, and `conflicts` when
 * LWW decided between writes of two origins. Retained copies of state are
 * served from the store (StoreRetained), so these go out as live messages.
 *
 * State is published from the store when its turn comes, so a key changed
 * several times while the broker is behind is published once, with its
 * latest value (docs/adr/0201); log messages keep every entry.
 *
 * It uses `broker.publish`, which no client command handler sees, so nothing
 * published here can come back into the store (no loop with replication).
 */
export class EntryPublisher {
  private inFlight = 0;
  private queue: Job[] = [];
  private head = 0;
  private messagesQueued = 0;
  /** Keys whose state job is queued (coalescing). */
  private readonly queuedKeys = new Set<string>();
  private waiters: (() => void)[] = [];
  /** The pump is running: a completion it causes (synchronously) is picked up by its loop, never by a nested pump. */
  private pumping = false;
  /** A pump is scheduled on a later turn. */
  private scheduled = false;
  private readonly budget = new TurnBudget();
  private droppedSinceLog = 0;
  private lastDropLog = 0;
  /** The payload a mirrored key is published with (set by the MQTT service: VDA 5050 `connection` from presence). */
  mirrorPayload: (e: Entry) => Buffer = (e) => e.value;

  /**
   * @param maxQueued jobs queued for the broker at most (limits.mqttQueueMessages);
   *   beyond it new messages are dropped, counted and logged.
   */
  constructor(
    private readonly broker: Aedes,
    private readonly topics: Topics,
    private readonly node: NodeHost,
    private readonly metrics: MqttMetrics,
    private readonly maxQueued = 100_000,
  ) {}

  /** Messages handed to the broker or queued for it, not yet delivered. */
  get pending(): number {
    return this.inFlight + this.queue.length - this.head;
  }

  readonly onApplied = (e: Entry, result: ApplyResult, other: Entry | undefined, source: ApplySource): void => {
    if (result === 'duplicate') return;
    this.message(this.topics.log(e.origin), Buffer.from(entryJsonText(e)), 'log', entryProperties(e));
    // A mirrored topic written here was delivered by the broker itself, as the client published it.
    if (result === 'won' && !(source === 'local' && mirrorTopic(e.key) !== undefined)) this.state(e.key);
    const conflict = describeConflict(this.node, e, result, other, source);
    if (conflict) this.message(this.topics.conflicts, Buffer.from(JSON.stringify(conflict)), 'conflicts');
  };

  /** A put expired here: its key's state goes empty, and the expiry is told on the origin's log topic. */
  readonly onExpired = (_put: Entry, event: Entry): void => {
    this.message(this.topics.log(event.origin), Buffer.from(entryJsonText(event)), 'log');
    this.state(event.key);
  };

  /** Resolves once everything queued so far has been delivered by the broker. */
  drained(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Drop what is still queued (the broker is closing): nothing more is sent. */
  close(): void {
    this.queue = [];
    this.head = 0;
    this.messagesQueued = 0;
    this.queuedKeys.clear();
  }

  /** A message kept retained by the broker itself (an empty payload clears it): for what the store does not hold. */
  retainInBroker(topic: string, payload: Buffer): void {
    this.push({ topic, payload, kind: 'nodes', retain: true });
  }

  /** A live message on a mirrored topic (from a peer, or a presence change): not retained, dropped if over the queue bound. */
  publishMirrored(topic: string, payload: Buffer, qos: 0 | 1): void {
    this.message(topic, payload, 'mirror', undefined, qos);
  }

  /** Publish a refusal report on a client's errors topic. */
  publishError(topic: string, report: Record<string, unknown>): void {
    this.message(topic, Buffer.from(JSON.stringify(report)), 'errors');
  }

  private message(topic: string, payload: Buffer, kind: Kind, properties?: Properties, qos: 0 | 1 = 0): void {
    if (this.full(kind)) return;
    this.messagesQueued++;
    this.push(qos === 0 ? { topic, payload, kind, properties } : { topic, payload, kind, properties, qos });
  }

  private state(key: string): void {
    if (this.queuedKeys.has(key)) return; // already queued: it will carry the latest value
    if (this.full('state')) return; // subscribers miss this update; a new subscription gets it from the store
    this.queuedKeys.add(key);
    this.push(key);
  }

  /** The queue is at its bound: the message is dropped, counted and (at most every 10 s) logged. */
  private full(kind: Kind): boolean {
    if (this.queue.length - this.head < this.maxQueued) return false;
    this.metrics.dropped.inc({ topic: kind });
    this.droppedSinceLog++;
    const now = Date.now();
    if (now - this.lastDropLog >= DROP_LOG_EVERY_MS) {
      this.node.logger.warn({ dropped: this.droppedSinceLog, queued: this.queue.length - this.head, limit: this.maxQueued }, 'mqtt: the broker is behind: dropped %d messages (queue full, limits.mqttQueueMessages)', this.droppedSinceLog);
      this.droppedSinceLog = 0;
      this.lastDropLog = now;
    }
    return true;
  }

  private push(job: Job): void {
    this.queue.push(job);
    this.pump();
  }

  /**
   * Hand queued jobs to the broker, up to MAX_IN_FLIGHT. Never recursive: a
   * completion during the loop (the broker may call back synchronously, e.g.
   * for thousands of jobs when it drops a stalled client) only frees a slot the
   * loop then uses; after TURN_BUDGET_MS the loop continues on a later turn.
   */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    this.budget.reset();
    try {
      while (this.inFlight < MAX_IN_FLIGHT && this.head < this.queue.length) {
        if (this.budget.spent()) {
          this.schedule();
          break;
        }
        const job = this.queue[this.head]!;
        this.queue[this.head++] = undefined as unknown as Job;
        if (typeof job === 'string') this.sendState(job);
        else {
          if (job.retain !== true) this.messagesQueued--;
          this.send(job.topic, job.payload, job.kind, job.retain === true, job.properties, job.qos ?? 0);
        }
      }
    } finally {
      this.pumping = false;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * The key's current value, or an empty payload once deleted. Not retained
   * in the broker: subscribers get retained state from the store (StoreRetained).
   */
  private sendState(key: string): void {
    this.queuedKeys.delete(key);
    const e = this.node.store.getAny(key);
    const payload = e === undefined || e.isDelete || e.expiredAt(Date.now()) ? EMPTY : e.value;
    const mirrored = mirrorTopic(key);
    if (mirrored !== undefined) return this.send(mirrored, e === undefined || e.isDelete ? EMPTY : this.mirrorPayload(e), 'mirror');
    const node = statusKeyNode(key);
    const properties = e === undefined ? undefined : entryProperties(e);
    if (node !== undefined) this.send(this.topics.node(node), payload, 'nodes', false, properties);
    else this.send(this.topics.state(key), payload, 'state', false, properties);
  }

  private send(topic: string, payload: Buffer, kind: Kind, retain = false, properties?: Properties, qos: 0 | 1 = 0): void {
    this.inFlight++;
    this.metrics.published.inc({ topic: kind });
    const packet: PublishPacket = { cmd: 'publish', topic, payload, qos, retain, dup: false, ...(properties ? { properties } : {}) };
    this.broker.publish(packet, this.done);
  }

  /** Continue the pump on a later turn (once). */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private readonly done = (err?: Error): void => {
    this.inFlight--;
    if (err) this.node.logger.warn({ err }, 'mqtt: publish failed');
    // Inside the pump's loop (a synchronous completion) the loop goes on; otherwise pump on a
    // later turn, if anything waits for the slot (not one setImmediate per message for nothing).
    if (!this.pumping && this.head < this.queue.length) this.schedule();
    if (this.pending === 0 && this.waiters.length > 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const resolve of w) resolve();
    }
  };
}
