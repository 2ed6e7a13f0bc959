import type { Client } from 'aedes';
import { isLoopback } from '../util/address.js';

/** The address a client connected from (TCP, TLS or the WebSocket's HTTP socket). */
export function clientAddress(client: Client): string | undefined {
  const conn = client.conn as { remoteAddress?: string };
  return conn.remoteAddress ?? client.req?.socket.remoteAddress;
}

/**
 * Protected mode (like Redis's): with MQTT authentication off, only clients
 * on this machine may connect, unless mqtt.allowAnonymous says otherwise. A
 * client that presented a certificate signed by the listener's CA
 * (mqtt.tls.ca) has authenticated and is let in from anywhere.
 */
export function anonymousClientAllowed(client: Client, allowAnonymous: boolean): boolean {
  if (allowAnonymous) return true;
  if ((client.conn as { authorized?: boolean }).authorized === true) return true;
  return isLoopback(clientAddress(client));
}
