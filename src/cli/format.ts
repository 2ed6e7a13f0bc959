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

/** Top-level status fields formatStatus prints itself; any other object (a service's section) gets a line of its own. */
const KNOWN = new Set(['nodeId', 'fleetId', 'incarnation', 'version', 'state', 'vector', 'keys', 'tombstones', 'log', 'peers']);

/** `fleetkv status`: readable at a glance (node, keys, log, compaction, peers with lag, services). */
export function formatStatus(s: Record<string, any>): string {
  const lines: string[] = [];
  const log = s.log ?? {};
  const vector = (s.vector ?? {}) as Record<string, number>;
  const own = vector[`${s.nodeId}:${s.incarnation}`] ?? 0;
  lines.push(`node      ${s.nodeId} (fleet ${s.fleetId}, incarnation ${s.incarnation}, v${s.version}) — ${s.state}`);
  lines.push(`keys      ${s.keys} live, ${s.tombstones} tombstones; ${Object.keys(vector).length} streams, ${own} own writes this incarnation`);
  lines.push(`log       ${formatBytes(log.bytes ?? 0)}, fsync=${log.fsync}${log.lastError ? `, LAST ERROR ${log.lastError.code}: ${log.lastError.message}` : ''}`);
  if (log.lastRecovery) lines.push(`recovered ${log.lastRecovery.records} records in ${Math.round(log.lastRecovery.ms)} ms${log.lastRecovery.tornTail ? ' (cut a torn write at the tail)' : ''}`);
  lines.push(`compacted ${log.lastCompaction ? `${log.lastCompaction.at} (freed ${formatBytes(log.lastCompaction.bytesFreed)}, ${log.lastCompaction.entries} entries kept)` : 'never'}`);
  const peers = (s.peers ?? []) as Record<string, any>[];
  const up = peers.filter((p) => /^(connected|live|streaming|syncing|up)$/i.test(String(p.state ?? ''))).length;
  lines.push(`peers     ${peers.length === 0 ? 'none' : `${up} of ${peers.length} connected`}`);
  for (const p of peers) lines.push(formatPeer(p));
  for (const [name, v] of Object.entries(s)) {
    if (KNOWN.has(name) || v === null || typeof v !== 'object' || Array.isArray(v)) continue;
    const fields = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x === null || typeof x !== 'object')
      .map(([k, x]) => `${k}=${String(x)}`);
    lines.push(`${name.padEnd(9)} ${fields.join(', ')}`);
  }
  return lines.join('\n');
}

export function formatPeer(p: Record<string, any>): string {
  const lag = p.lag ? `lag ${p.lag.entries ?? 0} entries / ${p.lag.ms ?? 0} ms` : '';
  // An inbound session's address is the peer's ephemeral port: name it by node id and say "inbound".
  const where = p.direction === 'in' ? 'inbound' : String(p.address ?? '');
  const name = p.nodeId ?? (p.direction === 'in' ? '(unidentified)' : p.address) ?? '?';
  const offset = typeof p.clockOffsetMs === 'number' ? `  clock ${p.clockOffsetMs > 0 ? '+' : ''}${p.clockOffsetMs} ms` : '';
  return `  ${String(name).padEnd(16)} ${String(p.state ?? '?').padEnd(11)} ${where.padEnd(22)} ${lag}${offset}`;
}
