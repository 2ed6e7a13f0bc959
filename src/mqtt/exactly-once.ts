import type { Client } from 'aedes';

/** The part of an Aedes persistence that ends a QoS 2 exchange (aedes-persistence's interface). */
export interface IncomingStore {
  incomingDelPacket(client: Client, packet: { messageId?: number }): Promise<void>;
  cleanIncoming?(client: Client): Promise<void>;
}

export type Outcome = 'executed' | 'duplicate';

/**
 * Exactly-once for QoS 2 commands. A `set`/`delete` runs in `authorizePublish`,
 * which Aedes calls *before* its own duplicate check, so a retransmitted
 * PUBLISH (DUP=1, same packet id) would run the command again. Here a command
 * runs once per (session, packet id): from the first PUBLISH until the client
 * releases the id with PUBREL (MQTT 3.1.1 §4.3.3: until then a PUBLISH with
 * that id is the same message), or a clean session drops the session.
 *
 * Keyed by client id, like Aedes' own session state, so a retransmit on a new
 * connection of a persistent session (clean=false) is recognised too. A
 * command that failed is forgotten (it was not acknowledged: its retransmit
 * runs it again). Synchronous lookups: commands keep their arrival order.
 */
export class ExactlyOnce {
  private readonly sessions = new Map<string, Map<number, Promise<void>>>();

  /** Run `execute` unless this session already ran (or is running) the command with this packet id. */
  run(clientId: string, messageId: number, execute: () => Promise<unknown>): Promise<Outcome> {
    let ids = this.sessions.get(clientId);
    const seen = ids?.get(messageId);
    // A retransmit settles with the first copy: not acknowledged before it is durable, nor if it failed.
    if (seen) return seen.then(() => 'duplicate');
    if (!ids) {
      ids = new Map();
      this.sessions.set(clientId, ids);
    }
    const run = execute().then(() => undefined);
    ids.set(messageId, run);
    const map = ids;
    run.catch(() => {
      if (map.get(messageId) === run) this.forget(clientId, map, messageId);
    });
    return run.then(() => 'executed');
  }

  /** PUBREL: the client may use this packet id for a new message from now on. */
  released(clientId: string, messageId: number): void {
    const ids = this.sessions.get(clientId);
    if (ids) this.forget(clientId, ids, messageId);
  }

  /** A clean session starts (or a clean session ends): its packet ids are gone. */
  clean(clientId: string): void {
    this.sessions.delete(clientId);
  }

  /** Packet ids held, over all sessions (tests, status). */
  get held(): number {
    let n = 0;
    for (const ids of this.sessions.values()) n += ids.size;
    return n;
  }

  /**
   * Learn about PUBREL and clean sessions from the broker's persistence, the
   * place where Aedes ends them: `incomingDelPacket` runs on PUBREL, before
   * PUBCOMP (after which the client may reuse the id), and `cleanIncoming` on a
   * clean-session CONNECT.
   */
  watch(persistence: IncomingStore): void {
    const del = persistence.incomingDelPacket.bind(persistence);
    persistence.incomingDelPacket = (client, packet) => {
      if (packet.messageId !== undefined) this.released(client.id, packet.messageId);
      return del(client, packet);
    };
    const clean = persistence.cleanIncoming?.bind(persistence);
    if (clean) {
      persistence.cleanIncoming = (client) => {
        this.clean(client.id);
        return clean(client);
      };
    }
  }

  private forget(clientId: string, ids: Map<number, Promise<void>>, messageId: number): void {
    ids.delete(messageId);
    if (ids.size === 0 && this.sessions.get(clientId) === ids) this.sessions.delete(clientId);
  }
}
