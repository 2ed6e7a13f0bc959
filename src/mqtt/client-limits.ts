import type { Client } from 'aedes';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';

/** The per-client bounds of the broker (limits.mqtt*, docs/mqtt.md "Slow and stalled clients"). */
export interface ClientLimitsConfig {
  /** Bytes waiting in one client's connection at most (limits.mqttClientQueueBytes). */
  queueBytes: number;
  /** Bytes of half-received packets held for all clients together (limits.mqttPartialBytes). */
  partialBytes: number;
  /** How long one client may leave a packet half-sent (limits.mqttPartialTimeout). */
  partialTimeoutMs: number;
}

export type DropReason = 'queue' | 'drain' | 'partial_bytes' | 'partial_timeout';

interface Conn {
  write(...args: unknown[]): boolean;
  destroy(err?: Error): void;
  readonly writableLength: number;
  readonly destroyed?: boolean;
  once(ev: 'close', cb: () => void): unknown;
}

interface Held {
  client: Client;
  conn: Conn;
  bytes: number;
  since: number;
}

/**
 * Bounds what one MQTT client can cost the node. A client that stops reading
 * (a dashboard on flaky Wi-Fi) is disconnected once more than `queueBytes`
 * wait in its connection, or (Aedes' drainTimeout, limits.mqttDrainTimeout)
 * once it has not drained for that long; a client that leaves a packet
 * half-sent is disconnected after `partialTimeoutMs`, and so is the one whose
 * partial packet would take all clients' held bytes past `partialBytes`.
 * Each disconnection is counted (fleetkv_mqtt_clients_dropped_total{reason})
 * and logged with the client id; the node and the other clients go on.
 */
export class ClientLimits {
  private readonly dropped: Counter<'reason'>;
  private readonly held = new Map<Conn, Held>();
  private heldBytes = 0;
  private readonly droppedConns = new WeakSet<Conn>();
  /** The partial-packet sweep: runs only while some client holds a half-sent packet (an idle broker has no timer). */
  private sweep: NodeJS.Timeout | undefined;

  constructor(
    private readonly cfg: ClientLimitsConfig,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.dropped = new Counter({ name: 'fleetkv_mqtt_clients_dropped_total', help: 'MQTT clients disconnected for falling behind or holding half-sent packets, by reason', labelNames: ['reason'], registers: [registry] });
  }

  /** Start the sweep when the first partial packet is held, stop it when none is left. */
  private sweepWhileHeld(): void {
    if (this.held.size > 0 && this.sweep === undefined) {
      this.sweep = setInterval(() => this.sweepPartials(), Math.max(50, Math.min(1000, this.cfg.partialTimeoutMs / 4)));
      this.sweep.unref();
    } else if (this.held.size === 0 && this.sweep !== undefined) {
      clearInterval(this.sweep);
      this.sweep = undefined;
    }
  }

  /** Partial-packet bytes held for all clients now. */
  get partialBytes(): number {
    return this.heldBytes;
  }

  /** Watch a new connection (right after `broker.handle`). */
  watch(client: Client, conn: Conn): void {
    const write = conn.write.bind(conn);
    conn.write = (...args: unknown[]): boolean => {
      const ok = write(...args);
      if (!ok && conn.writableLength > this.cfg.queueBytes) this.drop(client, conn, 'queue', { queuedBytes: conn.writableLength });
      return ok;
    };
    // mqtt-packet's parser: parse() returns the bytes it holds of a packet not yet complete.
    const parser = (client as unknown as { _parser?: { parse?: (buf: Buffer) => number; on?: (ev: 'packet', cb: () => void) => void } })._parser;
    if (parser?.parse && parser.on) {
      const parse = parser.parse.bind(parser);
      let completed = false;
      parser.on('packet', () => {
        completed = true;
      });
      parser.parse = (buf: Buffer): number => {
        completed = false;
        const left = parse(buf);
        // A packet completed in this read: what is held now belongs to a packet that has just begun.
        if (completed) this.holding(client, conn, 0);
        this.holding(client, conn, typeof left === 'number' ? left : 0);
        return left;
      };
    }
    conn.once('close', () => this.holding(client, conn, 0));
  }

  /** The broker's 'clientError' event: Aedes' own drain timeout is one of ours. */
  onClientError(client: Client, err: Error): void {
    if (err.message === 'drain timeout' && client.conn) this.count(client, client.conn as unknown as Conn, 'drain', {});
  }

  close(): void {
    clearInterval(this.sweep);
    this.sweep = undefined;
    this.held.clear();
    this.heldBytes = 0;
  }

  private holding(client: Client, conn: Conn, bytes: number): void {
    const h = this.held.get(conn);
    if (bytes === 0) {
      if (h) {
        this.heldBytes -= h.bytes;
        this.held.delete(conn);
        this.sweepWhileHeld();
      }
      return;
    }
    if (conn.destroyed === true) return;
    const before = h?.bytes ?? 0;
    if (this.heldBytes - before + bytes > this.cfg.partialBytes) {
      this.holding(client, conn, 0);
      this.drop(client, conn, 'partial_bytes', { partialBytes: bytes, heldBytes: this.heldBytes });
      return;
    }
    this.heldBytes += bytes - before;
    if (h) h.bytes = bytes;
    else {
      this.held.set(conn, { client, conn, bytes, since: Date.now() });
      this.sweepWhileHeld();
    }
  }

  private sweepPartials(): void {
    const cutoff = Date.now() - this.cfg.partialTimeoutMs;
    for (const h of [...this.held.values()]) {
      if (h.since > cutoff) continue;
      this.holding(h.client, h.conn, 0);
      this.drop(h.client, h.conn, 'partial_timeout', { partialBytes: h.bytes, heldMs: Date.now() - h.since });
    }
  }

  private drop(client: Client, conn: Conn, reason: DropReason, detail: Record<string, number>): void {
    if (!this.count(client, conn, reason, detail)) return;
    // Not from inside the write or parse that noticed it: Aedes is in the middle of its own bookkeeping.
    setImmediate(() => conn.destroy());
  }

  /** Count and log a disconnection once per connection; false if it was already counted. */
  private count(client: Client, conn: Conn, reason: DropReason, detail: Record<string, number>): boolean {
    if (this.droppedConns.has(conn)) return false;
    this.droppedConns.add(conn);
    this.dropped.inc({ reason });
    this.logger.warn({ clientId: client.id, reason, ...detail }, 'mqtt: disconnected client %s: %s', client.id, WHY[reason]);
    return true;
  }
}

const WHY: Record<DropReason, string> = {
  queue: 'it does not read what it is sent (over limits.mqttClientQueueBytes waiting)',
  drain: 'it has not read what it was sent for limits.mqttDrainTimeout',
  partial_bytes: 'its half-sent packet would take the partial-packet memory past limits.mqttPartialBytes',
  partial_timeout: 'it left a packet half-sent for limits.mqttPartialTimeout',
};
