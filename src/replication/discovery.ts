import type { ReplicationService } from './service.js';

/** DNS-SD service type: _fleetkv._tcp */
export const MDNS_TYPE = 'fleetkv';

/** What discovery needs from a found service record (a subset of bonjour-service's Service). */
export interface FoundService {
  port: number;
  txt?: Record<string, unknown>;
  addresses?: string[];
  referer?: { address: string };
}

/**
 * The peer address to dial for a discovered service: same fleet, not this
 * node; the address the announcement came from is preferred (it is the one
 * that routes), else its first IPv4 address.
 */
export function peerFromService(s: FoundService, self: { fleetId: string; nodeId: string }): string | undefined {
  if (s.txt?.fleet !== self.fleetId || s.txt?.node === self.nodeId || typeof s.txt?.node !== 'string') return undefined;
  const host = s.referer?.address ?? s.addresses?.find((a) => !a.includes(':'));
  if (!host || !Number.isInteger(s.port) || s.port <= 0) return undefined;
  return host.includes(':') ? `[${host}]:${s.port}` : `${host}:${s.port}`;
}

/**
 * Optional peer discovery on the local network with mDNS/DNS-SD
 * (`discovery.mdns`, off by default): announce this node's peer port as
 * `_fleetkv._tcp` with its fleet and node id, and dial every node of the same
 * fleet that announces itself. Both sides dialling is fine: one connection
 * per pair is kept.
 */
export async function startMdns(svc: ReplicationService): Promise<() => Promise<void>> {
  const { Bonjour } = await import('bonjour-service');
  const self = { fleetId: svc.settings.fleetId, nodeId: svc.settings.nodeId };
  const bonjour = new Bonjour(undefined, (err: unknown) => svc.logger.warn({ err }, 'mDNS error'));
  const port = svc.ports().peer!;
  bonjour.publish({ name: `fleetkv ${self.fleetId} ${self.nodeId}`, type: MDNS_TYPE, port, txt: { fleet: self.fleetId, node: self.nodeId } });
  const browser = bonjour.find({ type: MDNS_TYPE }, (s) => {
    const address = peerFromService(s as FoundService, self);
    if (address === undefined) return;
    svc.logger.info({ peer: s.txt?.node, address }, 'mDNS: found peer %s at %s', String(s.txt?.node), address);
    svc.addPeer(address);
  });
  svc.logger.info({ type: `_${MDNS_TYPE}._tcp`, port }, 'mDNS discovery on: announcing _%s._tcp port %d', MDNS_TYPE, port);
  return async () => {
    browser.stop();
    await new Promise<void>((r) => bonjour.unpublishAll(() => r()));
    bonjour.destroy();
  };
}
