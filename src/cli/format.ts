import type { NodeStatus, PeerStatus, ServiceStatus } from '../node-status.js';
import { SERVICE_SECTIONS } from '../node-status.js';

/** Human-readable figures for the CLI. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** A peer whose session works (PeerStatus.state). */
const CONNECTED: ReadonlySet<PeerStatus['state']> = new Set(['live', 'syncing']);

/** One line per service section of the status (src/node-status.ts), in SERVICE_SECTIONS order. */
const SECTION: { [K in (typeof SERVICE_SECTIONS)[number]]: (v: NonNullable<ServiceStatus[K]>) => string } = {
  mqtt: (m) =>
    `clients=${m.clients}, pending=${m.pending}${
      Object.keys(m.ports).length > 0
        ? `, ${Object.entries(m.ports)
            .map(([name, port]) => `${name}=${port}`)
            .join(', ')}`
        : ''
    }`,
  uplink: (u) => `${u.connected ? 'connected' : 'NOT CONNECTED'}, pending=${u.pending}`,
  presence: (p) => `timeout=${p.timeoutMs} ms`,
  http: (h) => `port=${h.port ?? '?'}, watchers=${h.watchers}`,
};

function sectionLine<K extends keyof typeof SECTION>(s: ServiceStatus, name: K): string | undefined {
  const v = s[name];
  return v === undefined ? undefined : `${name.padEnd(9)} ${SECTION[name](v as NonNullable<ServiceStatus[K]>)}`;
}

/** `fleetkv status`: readable at a glance (node, keys, log, compaction, peers with lag, each service's section). */
export function formatStatus(s: NodeStatus): string {
  const lines: string[] = [];
  const log = s.log;
  const own = s.vector[`${s.nodeId}:${s.incarnation}`] ?? 0;
  lines.push(`node      ${s.nodeId} (fleet ${s.fleetId}, incarnation ${s.incarnation}, v${s.version}) — ${s.state}${s.writable === false && s.unwritableReason ? ` (writes refused: ${s.unwritableReason})` : ''}`);
  lines.push(`keys      ${s.keys} live, ${s.tombstones} tombstones; ${Object.keys(s.vector).length} streams, ${own} own writes this incarnation`);
  lines.push(`log       ${formatBytes(log.bytes)}, fsync=${log.fsync}${log.lastError ? `, LAST ERROR ${log.lastError.code}: ${log.lastError.message}` : ''}`);
  if (log.lastRecovery) lines.push(`recovered ${log.lastRecovery.records} records in ${Math.round(log.lastRecovery.ms)} ms${log.lastRecovery.tornTail ? ' (cut a torn write at the tail)' : ''}`);
  lines.push(`compacted ${log.lastCompaction ? `${log.lastCompaction.at} (freed ${formatBytes(log.lastCompaction.bytesFreed)}, ${log.lastCompaction.entries} entries kept)` : 'never'}`);
  const up = s.peers.filter((p) => CONNECTED.has(p.state)).length;
  lines.push(`peers     ${s.peers.length === 0 ? 'none' : `${up} of ${s.peers.length} connected`}`);
  for (const p of s.peers) lines.push(formatPeer(p));
  for (const name of SERVICE_SECTIONS) {
    const line = sectionLine(s, name);
    if (line !== undefined) lines.push(line);
  }
  return lines.join('\n');
}

export function formatPeer(p: PeerStatus): string {
  const lag = p.lag ? `lag ${p.lag.entries} entries / ${p.lag.ms} ms` : '';
  // An inbound session's address is the peer's ephemeral port: name it by node id and say "inbound".
  const where = p.direction === 'in' ? 'inbound' : p.address;
  const name = p.nodeId ?? (p.direction === 'in' ? '(unidentified)' : p.address);
  const offset = typeof p.clockOffsetMs === 'number' ? `  clock ${p.clockOffsetMs > 0 ? '+' : ''}${p.clockOffsetMs} ms` : '';
  return `  ${name.padEnd(16)} ${p.state.padEnd(11)} ${where.padEnd(22)} ${lag}${offset}`;
}
