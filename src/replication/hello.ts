import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { FleetError } from '../errors.js';
import type { VectorObject } from '../store/vector.js';
import { PROTOCOL_VERSION } from './frames.js';

/** The HELLO each side sends first (docs/replication.md, "Protocol"). */
export interface Hello {
  protocol: number;
  fleetId: string;
  nodeId: string;
  /** Random per process start: tells a restarted peer from a second connection of the same one. */
  instance: string;
  /** When this instance started (ms since the epoch): of two live nodes with one id, the later one is the newcomer. Optional (older peers). */
  started?: number;
  vector: VectorObject;
  /** Fresh random challenge for this connection (hex); the peer's AUTH proof must cover it. */
  nonce: string;
  /** The sender was away longer than tombstoneRetention: send it everything (full resync). */
  fullResync: boolean;
}

export function newNonce(): string {
  return randomBytes(32).toString('hex');
}

/** Check a received HELLO's shape and fleet membership; throws the ERROR code to answer with. */
export function checkHello(h: Hello, self: { fleetId: string; nodeId: string }): Hello {
  if (typeof h.protocol !== 'number' || h.protocol !== PROTOCOL_VERSION) {
    throw new FleetError('PROTOCOL_VERSION', `peer speaks protocol ${String(h.protocol)}, this node speaks ${PROTOCOL_VERSION}`);
  }
  if (typeof h.nodeId !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(h.nodeId)) throw new FleetError('FRAME_INVALID', 'HELLO without a valid nodeId');
  if (typeof h.nonce !== 'string' || !/^[0-9a-f]{64}$/.test(h.nonce)) throw new FleetError('FRAME_INVALID', 'HELLO without a valid nonce');
  if (typeof h.instance !== 'string' || h.instance.length === 0 || h.instance.length > 64) throw new FleetError('FRAME_INVALID', 'HELLO without an instance id');
  if (h.started !== undefined && !(typeof h.started === 'number' && Number.isSafeInteger(h.started) && h.started >= 0)) throw new FleetError('FRAME_INVALID', 'HELLO with an invalid started time');
  if (!isVector(h.vector)) throw new FleetError('FRAME_INVALID', 'HELLO without a valid vector');
  if (h.fleetId !== self.fleetId) throw new FleetError('FLEET_MISMATCH', `peer ${h.nodeId} belongs to fleet "${String(h.fleetId)}", this node to "${self.fleetId}"`);
  if (h.nodeId === self.nodeId) throw new FleetError('NODE_ID_CLASH', `peer has the same node id "${h.nodeId}" as this node: give every node its own nodeId`);
  return { ...h, fullResync: h.fullResync === true };
}

export function isVector(v: unknown): v is VectorObject {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  for (const [k, n] of Object.entries(v as Record<string, unknown>)) {
    // A stream is origin:incarnation (a u32); a seq is an integer below 2^53.
    if (k.length === 0 || k.length > 80 || typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return false;
    const i = k.lastIndexOf(':');
    if (i < 1) return false;
    const inc = Number(k.slice(i + 1));
    if (!Number.isInteger(inc) || inc < 0 || inc > 0xffffffff || String(inc) !== k.slice(i + 1)) return false;
  }
  return true;
}

/**
 * The AUTH proof: HMAC-SHA256(secret) over both nonces, both node ids (sender
 * first, so a proof cannot be reflected back) and the fleet id. The receiver's
 * nonce is fresh, so a recorded handshake replayed later fails; the secret
 * itself never crosses the wire.
 */
export function authProof(secret: string, fleetId: string, sender: { nodeId: string; nonce: string }, receiver: { nodeId: string; nonce: string }): string {
  return createHmac('sha256', secret).update(`fleetkv-auth/${PROTOCOL_VERSION}\n${fleetId}\n${sender.nodeId}\n${receiver.nodeId}\n${receiver.nonce}\n${sender.nonce}`).digest('hex');
}

export function checkProof(expected: string, got: unknown): boolean {
  if (typeof got !== 'string' || got.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(expected), Buffer.from(got));
}
