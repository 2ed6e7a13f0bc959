import type { Client } from 'aedes';

interface Owner {
  user: string;
  client: Client;
  /** The session outlives the connection (clean=false): the id stays the user's. */
  persistent: boolean;
}

/**
 * With MQTT auth on, a client id belongs to the user whose connection holds
 * it. MQTT lets a new CONNECT with a client id in use take over its session
 * (MQTT-3.1.4-2: the broker closes the old connection), which between users
 * means one user can kick another's robot off the broker, or resume its
 * persistent session (subscriptions and queued messages). So a CONNECT is
 * refused while another user holds the id: a live connection, or a
 * persistent session (until its owner ends it with a clean session). The same
 * user may take over its own id, as MQTT says.
 *
 * In memory, like the broker's sessions: after a restart every id is free.
 */
export class ClientIdOwners {
  private readonly owners = new Map<string, Owner>();

  /** Claim `clientId` for `user`; returns the user who holds it instead, or undefined when claimed. */
  claim(clientId: string, user: string, client: Client): string | undefined {
    const o = this.owners.get(clientId);
    if (o && o.user !== user && (o.persistent || !isClosed(o.client))) return o.user;
    this.owners.set(clientId, { user, client, persistent: client.clean === false });
    return undefined;
  }

  /** The connection is gone: a clean session's id is free again. */
  release(client: Client): void {
    const o = this.owners.get(client.id);
    if (o?.client === client && !o.persistent) this.owners.delete(client.id);
  }

  get size(): number {
    return this.owners.size;
  }
}

function isClosed(client: Client): boolean {
  return (client as unknown as { closed?: boolean }).closed === true;
}
