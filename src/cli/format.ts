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

export function formatStatus(s: Record<string, any>): string {
  const lines: string[] = [];
  const log = s.log ?? {};
  lines.push(`node      ${s.nodeId} (fleet ${s.fleetId}, incarnation ${s.incarnation}, v${s.version}) — ${s.state}`);
  lines.push(`keys      ${s.keys} live, ${s.tombstones} tombstones`);
  lines.push(`log       ${formatBytes(log.bytes ?? 0)}, fsync=${log.fsync}${log.lastError ? `, LAST ERROR ${log.lastError.code}: ${log.lastError.message}` : ''}`);
  lines.push(`compacted ${log.lastCompaction ? `${log.lastCompaction.at} (freed ${formatBytes(log.lastCompaction.bytesFreed)})` : 'never'}`);
  const peers = (s.peers ?? []) as Record<string, any>[];
  lines.push(`peers     ${peers.length === 0 ? 'none' : ''}`);
  for (const p of peers) lines.push(formatPeer(p));
  return lines.join('\n');
}

export function formatPeer(p: Record<string, any>): string {
  const lag = p.lag ? `lag ${p.lag.entries ?? 0} entries / ${p.lag.ms ?? 0} ms` : '';
  return `  ${String(p.nodeId ?? p.address ?? '?').padEnd(16)} ${String(p.state ?? '?').padEnd(11)} ${String(p.address ?? '').padEnd(22)} ${lag}`;
}
