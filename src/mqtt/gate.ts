import type { Aedes, AedesOptions, AuthenticateError, Client, PublishPacket, Subscription } from 'aedes';
import mqttPacket from 'mqtt-packet';
import { FleetError, isFleetError, type FleetErrorCode } from '../errors.js';
import type { NodeHost } from '../node-host.js';
import type { MqttAuth, MqttUser } from './auth.js';
import { ClientIdOwners } from './client-ids.js';
import { ExactlyOnce, type IncomingStore } from './exactly-once.js';
import type { MqttMetrics } from './metrics.js';
import { pubackReasonCode } from './mqtt5.js';
import { anonymousClientAllowed, clientAddress } from './protected-mode.js';
import type { MirrorForwarder } from './forward.js';
import { mirrorKey, type MirrorTopics } from './mirror.js';
import type { EntryPublisher } from './publisher.js';
import type { RetainedBudget } from './retained-budget.js';
import type { Topics } from './topics.js';

/**
 * Refusals the client cannot fix by retrying. The publish is acknowledged (it
 * was handled: refused) and reported on `errors/<clientId>`; the client stays
 * connected. Anything else (disk full, node stopping) is not acknowledged and
 * the connection is closed, so the client sends it again later.
 */
const PERMANENT: ReadonlySet<FleetErrorCode> = new Set(['KEY_INVALID', 'VALUE_TOO_LARGE', 'VALUE_INVALID', 'TOPIC_FORBIDDEN', 'TTL_INVALID']);

type Hooks = Required<Pick<AedesOptions, 'authenticate' | 'authorizePublish' | 'authorizeSubscribe'>>;

/**
 * The broker's gate: who may connect, subscribe and publish, and what a
 * publish to a command topic does. A QoS 1 `set`/`delete` is written before
 * Aedes sends PUBACK (it sends it when this hook calls back), so PUBACK means
 * durable under the fsync policy; a QoS 2 one before PUBREC, and once per
 * packet id (ExactlyOnce: this hook runs before Aedes' duplicate check).
 */
export class BrokerGate {
  private readonly users = new WeakMap<Client, MqttUser>();
  /** QoS 2 commands already run, per session and packet id; `service` connects it to the broker's persistence. */
  readonly exactlyOnce = new ExactlyOnce();
  /** With auth on: which user holds which client id. */
  private readonly owners = new ClientIdOwners();

  constructor(
    private readonly node: NodeHost,
    private readonly topics: Topics,
    private readonly publisher: EntryPublisher,
    private readonly metrics: MqttMetrics,
    private readonly auth: MqttAuth | undefined,
    private readonly mirror: MirrorTopics,
    private readonly forwarder: MirrorForwarder,
    private readonly retained?: RetainedBudget,
  ) {}

  /** Follow the broker's sessions (after `broker.listen()`, which sets up its persistence). */
  attach(broker: Aedes): void {
    this.exactlyOnce.watch((broker as unknown as { persistence: IncomingStore }).persistence);
    broker.on('clientDisconnect', (client) => {
      if (client.clean) this.exactlyOnce.clean(client.id); // a clean session ends with its connection
      this.owners.release(client);
    });
  }

  hooks(): Hooks {
    return {
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => this.authorizeSubscribe(client, sub, done),
    };
  }

  private authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: (err: AuthenticateError | null, ok: boolean | null) => void): void {
    if (!this.auth) {
      if (anonymousClientAllowed(client, this.node.config.mqtt.allowAnonymous)) return done(null, true);
      this.metrics.authFailures.inc();
      this.node.logger.warn({ clientId: client.id, remote: clientAddress(client) }, 'mqtt: refused a client from another machine: authentication is off (protected mode); set mqtt.auth or mqtt.allowAnonymous');
      const err = new Error('protected mode: authentication is off and the client is not on this machine') as AuthenticateError;
      err.returnCode = 5; // NOT_AUTHORIZED
      return done(err, null);
    }
    this.auth.authenticate(username, password).then(
      (user) => {
        if (user) {
          const refusal = this.clientIdRefusal(client, user);
          if (refusal) {
            this.metrics.refused.inc({ code: refusal.code });
            this.node.logger.warn({ clientId: client.id, username: user.name, remote: remoteOf(client), code: refusal.code }, 'mqtt: refused connection: %s', refusal.message);
            const err = new Error(refusal.message) as AuthenticateError;
            err.returnCode = 2; // IDENTIFIER_REJECTED; checked before Aedes takes over a session with this id
            return done(err, null);
          }
          this.users.set(client, user);
          return done(null, true);
        }
        this.metrics.authFailures.inc();
        this.node.logger.warn({ clientId: client.id, username, remote: remoteOf(client) }, 'mqtt: refused connection: bad user name or password');
        const err = new Error('bad user name or password') as AuthenticateError;
        err.returnCode = 4; // BAD_USERNAME_OR_PASSWORD (a const enum: not importable here)
        done(err, null);
      },
      (err: unknown) => done(Object.assign(err as Error, { returnCode: 3 }) as AuthenticateError, null),
    );
  }

  /** Why this user may not connect with this client id, or undefined (then the id is now the user's). */
  private clientIdRefusal(client: Client, user: MqttUser): FleetError | undefined {
    if (!this.auth!.mayUseClientId(user, client.id)) {
      return new FleetError('CLIENT_ID_REJECTED', `user "${user.name}" may not use client id "${client.id}" (outside its clientIds)`);
    }
    const holder = this.owners.claim(client.id, user.name, client);
    if (holder !== undefined) {
      return new FleetError('CLIENT_ID_REJECTED', `client id "${client.id}" is held by another user's session; user "${user.name}" may not take it over`);
    }
    return undefined;
  }

  private authorizeSubscribe(client: Client, sub: Subscription, done: (err: Error | null, sub?: Subscription | null) => void): void {
    const user = this.users.get(client);
    if (this.auth && (!user || !this.auth.canRead(user, client.id, sub.topic))) {
      this.metrics.refused.inc({ code: 'TOPIC_FORBIDDEN' });
      this.node.logger.warn({ clientId: client.id, username: user?.name, topic: sub.topic }, 'mqtt: refused subscription outside the ACL');
      return done(null, null); // SUBACK 0x80; the client stays connected
    }
    done(null, sub);
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    const topic = packet.topic;
    const user = client ? this.users.get(client) : undefined;
    if (this.auth && client && (!user || !this.auth.canWrite(user, client.id, this.topics.aclTopic(topic)))) {
      return this.refuse(client, packet, new FleetError('TOPIC_FORBIDDEN', `user "${user?.name ?? ''}" may not publish to ${topic}`), done);
    }
    // Aedes' default hook refused these; this one replaces it. `$` topics are the broker's (MQTT 3.1.1 §4.7.2).
    if (topic.startsWith('$')) {
      return this.refuse(client, packet, new FleetError('TOPIC_FORBIDDEN', `${topic}: topics starting with $ are published by the broker only`), done);
    }
    if (this.topics.isDerived(topic)) {
      return this.refuse(client, packet, new FleetError('TOPIC_FORBIDDEN', `${topic} is published by fleetkv only; write with ${this.topics.prefix}/set/<key>`), done);
    }
    const cmd = this.topics.command(topic);
    if (!cmd) {
      if (this.mirror.matches(topic)) return this.mirrored(client, packet, done);
      if (packet.retain && client && this.retained && !this.retained.admit(topic, packet.payload.length)) {
        const limit = this.node.config.limits.mqttRetainedBytes;
        return this.refuse(
          client,
          packet,
          new FleetError('RETAINED_LIMIT', `retained messages outside ${this.topics.prefix}/ would pass limits.mqttRetainedBytes (${limit} bytes): ${topic} not kept; clear retained topics with an empty payload`),
          done,
        );
      }
      return done(null);
    }
    // A command is not kept as a retained message: the store holds the state.
    packet.retain = false;
    const payload = packet.payload;
    // MQTT 5: a set's Message Expiry Interval is the key's TTL (seconds), unless its topic names one.
    const expiry = packet.properties?.messageExpiryInterval;
    const ttl = cmd.ttl ?? (expiry !== undefined && expiry > 0 ? `${expiry}s` : undefined);
    this.execute(client, packet, cmd.op, () => (cmd.op === 'set' ? this.node.put(cmd.key, payload, ttl === undefined ? {} : { ttl }) : this.node.delete(cmd.key)), done);
  }

  /**
   * A publish on a mirrored topic (docs/mqtt.md, "Mirrored topics"). Retained:
   * stored under `_fleetkv/mirror/` (an empty payload deletes it) before the
   * broker acknowledges and delivers it, without the broker keeping a copy
   * (the store serves it, StoreRetained). Live: delivered here by the broker
   * as usual and forwarded once to every peer's broker.
   */
  private mirrored(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    const topic = packet.topic;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const max = this.node.config.limits.maxValueBytes;
    if (payload.length > max) {
      return this.refuse(client, packet, new FleetError('VALUE_TOO_LARGE', `payload is ${payload.length} bytes; the limit is ${max} (limits.maxValueBytes)`), done);
    }
    if (!packet.retain) {
      this.forwarder.forward(topic, payload, packet.qos);
      return done(null);
    }
    let key: string;
    try {
      key = mirrorKey(topic);
    } catch (err) {
      return this.refuse(client, packet, err as FleetError, done);
    }
    packet.retain = false; // the store holds it; to subscribers now it is a live message (MQTT-3.3.1-9)
    this.execute(client, packet, 'mirror', () => this.node.writeMirrored(key, payload.length === 0 ? undefined : payload), done);
  }

  /** Run a write for a publish: acknowledged once durable, once per packet id for QoS 2, refused or failed as documented. */
  private execute(client: Client | null, packet: PublishPacket, op: string, write: () => Promise<unknown>, done: (err?: Error | null) => void): void {
    const topic = packet.topic;
    // QoS 1 is at-least-once (MQTT 3.1.1 §4.3.2): a retransmit is a new publication and runs again.
    const run = packet.qos === 2 && client && packet.messageId !== undefined ? this.exactlyOnce.run(client.id, packet.messageId, write) : write().then(() => 'executed' as const);
    run.then(
      (outcome) => {
        if (outcome === 'executed') {
          if (op === 'mirror') this.metrics.mirrored.inc({ kind: 'retained' });
          else this.metrics.commands.inc({ op });
        } else this.node.logger.debug({ clientId: client?.id, topic, messageId: packet.messageId }, 'mqtt: QoS 2 retransmit of a command already applied: not applied again');
        done(null);
      },
      (err: unknown) => {
        if (isFleetError(err) && PERMANENT.has(err.code)) return this.refuse(client, packet, err, done);
        const e = isFleetError(err) ? err : new FleetError('IO_ERROR', String(err));
        this.report(client, topic, e);
        this.node.logger.error({ clientId: client?.id, topic, code: e.code }, 'mqtt: %s failed, closing the connection without acknowledging: %s', op, e.message);
        done(e);
      },
    );
  }

  /**
   * Refuse a publish and keep the client connected: the packet becomes the
   * error report on the client's errors topic (MQTT 3.1.1 §3.3.5 lets a server
   * acknowledge a publish it does not perform), so nothing of it reaches the
   * store or the topic it named.
   */
  private refuse(client: Client | null, packet: PublishPacket, err: FleetError, done: (err?: Error | null) => void): void {
    this.metrics.refused.inc({ code: err.code });
    this.node.logger.warn({ clientId: client?.id, topic: packet.topic, code: err.code }, 'mqtt: refused publish: %s', err.message);
    const report = this.errorReport(client, packet.topic, err);
    if (client?.version === 5 && packet.qos > 0) return this.refuseWithReasonCode(client, packet, err, report, done);
    packet.topic = this.topics.errors(client?.id ?? '');
    packet.payload = Buffer.from(JSON.stringify(report));
    packet.retain = false;
    done(null);
  }

  /**
   * MQTT 5: the PUBACK (QoS 1) or PUBREC (QoS 2) carries the refusal's reason
   * code and, unless the client asked not to get problem information, the
   * message as its reason string; the report still goes to `errors/<clientId>`.
   * Aedes 2 answers an authorizePublish error with 0x87 (Not authorized)
   * whatever the cause, so the acknowledgement is written here and the packet
   * marked as Aedes marks the ones it refused: neither acknowledged again nor
   * published (its `_notAuthorized`, pinned by test/mqtt/mqtt5.test.ts).
   */
  private refuseWithReasonCode(client: Client, packet: PublishPacket, err: FleetError, report: Record<string, unknown>, done: (err?: Error | null) => void): void {
    this.publisher.publishError(this.topics.errors(client.id), report);
    const problemInfo = (client as unknown as { _requestProblemInformation?: boolean })._requestProblemInformation !== false;
    const ack = {
      cmd: packet.qos === 1 ? ('puback' as const) : ('pubrec' as const),
      messageId: packet.messageId,
      reasonCode: pubackReasonCode(err.code),
      ...(problemInfo ? { properties: { reasonString: `${err.code}: ${err.message}` } } : {}),
    };
    (packet as PublishPacket & { _notAuthorized?: boolean })._notAuthorized = true;
    try {
      mqttPacket.writeToStream(ack, client.conn as unknown as NodeJS.WritableStream, { protocolVersion: 5 });
    } catch (e) {
      this.node.logger.warn({ clientId: client.id, err: e }, 'mqtt: could not write the refusal acknowledgement');
    }
    done(null);
  }

  private report(client: Client | null, topic: string, err: FleetError): void {
    this.publisher.publishError(this.topics.errors(client?.id ?? ''), this.errorReport(client, topic, err));
  }

  private errorReport(client: Client | null, topic: string, err: FleetError): Record<string, unknown> {
    return { code: err.code, message: err.message, topic, clientId: client?.id ?? null, node: this.node.nodeId, at: new Date().toISOString() };
  }
}

function remoteOf(client: Client): string | undefined {
  const s = client.conn as { remoteAddress?: string; remotePort?: number };
  return s.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : client.req?.socket.remoteAddress;
}
