import { randomInt } from 'node:crypto';

/** 2024-01-01T00:00:00Z: incarnations count minutes from here (docs/adr/0002). */
const EPOCH_MS = Date.UTC(2024, 0, 1);
/** The incarnation field is a u32 (docs/adr/0001). */
const MAX_INCARNATION = 2 ** 32 - 1;

/**
 * A new incarnation: above `prev`, and above any incarnation this node id can
 * have used before even when it no longer remembers it (wiped data dir, a
 * restored older copy): minutes since 2024-01-01 × 256 plus 8 random bits.
 * The clock only has to move forward between starts; the random bits keep
 * two starts in the same minute (twins, a cloned image) apart.
 */
export function newIncarnation(prev: number, nowMs = Date.now()): number {
  const minutes = Math.max(0, Math.floor((nowMs - EPOCH_MS) / 60_000));
  const inc = Math.max(prev + 1, minutes * 256 + randomInt(256));
  return Math.min(inc, MAX_INCARNATION);
}

/** Why the node keeps or renews its incarnation at start. */
export type IdentityStart = { renew: true; reason: string } | { renew: false; reason: 'clean stop' };

/**
 * The one incarnation rule (docs/adr/0002): a new incarnation unless the
 * previous run of this data dir stopped cleanly. Every unclean stop counts,
 * whatever the fsync policy: entries are shipped to peers while their local
 * fsync runs, and a failed fsync may have dropped pages. A clean continuation
 * is still provisional until a peer confirms it (replication).
 */
export function identityAtStart(meta: { cleanShutdown: boolean; fsync: string } | undefined): IdentityStart {
  if (!meta) return { renew: true, reason: 'no node.json (new or wiped data dir)' };
  if (!meta.cleanShutdown) return { renew: true, reason: `unclean stop (fsync=${meta.fsync})` };
  return { renew: false, reason: 'clean stop' };
}
