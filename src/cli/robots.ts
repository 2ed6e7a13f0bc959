import type { Command } from 'commander';
import type { NodeClient } from './client.js';

/** One robot as GET /v1/robots returns it (the fields the table shows). */
export interface RobotRow {
  id: string;
  status: string | null;
  battery: number | null;
  pose: { x: number; y: number; yaw: number; map: string } | null;
  lastSeen: string;
  online: boolean;
  problems?: unknown[];
}

function ago(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

/** `fleetkv robots`: id, status, battery, pose, last seen, online — one robot a line. */
export function formatRobots(robots: RobotRow[], now = Date.now()): string {
  if (robots.length === 0) return 'no robots (no robots/<id>/<field> keys on this node; see docs/robots.md)';
  const rows = [['ROBOT', 'STATUS', 'BATTERY', 'POSE (x, y, yaw @ map)', 'LAST SEEN', 'ONLINE']];
  for (const r of robots) {
    rows.push([
      r.id,
      `${r.status ?? '-'}${r.problems && r.problems.length > 0 ? ' (malformed)' : ''}`,
      r.battery === null ? '-' : `${Math.round(r.battery * 100)}%`,
      r.pose ? `${r.pose.x.toFixed(2)}, ${r.pose.y.toFixed(2)}, ${r.pose.yaw.toFixed(2)} @ ${r.pose.map}` : '-',
      ago(r.lastSeen, now),
      r.online ? 'online' : 'OFFLINE',
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')).join('\n');
}

/** One node as GET /v1/nodes returns it. */
export interface NodeRow {
  id: string;
  self: boolean;
  online: boolean;
  reason: string;
  lastSeen: string | null;
  version: string | null;
  lag: { entries: number; ms: number } | null;
  clockOffsetMs: number | null;
}

/** `fleetkv nodes`: id, online, last seen, version, lag, clock offset — one node a line. */
export function formatNodes(nodes: NodeRow[], now = Date.now()): string {
  const rows = [['NODE', 'ONLINE', 'LAST SEEN', 'VERSION', 'LAG', 'CLOCK OFFSET']];
  for (const n of nodes) {
    rows.push([
      n.self ? `${n.id} (this node)` : n.id,
      n.online ? 'online' : `OFFLINE (${n.reason})`,
      n.lastSeen === null ? '-' : ago(n.lastSeen, now),
      n.version ?? '-',
      n.lag ? `${n.lag.entries} entries / ${n.lag.ms} ms` : '-',
      n.clockOffsetMs === null ? '-' : `${n.clockOffsetMs > 0 ? '+' : ''}${n.clockOffsetMs} ms`,
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')).join('\n');
}

export function registerRobots(program: Command, client: () => NodeClient): void {
  program
    .command('nodes')
    .description('every node of the fleet: online, last seen, version, lag, clock offset (GET /v1/nodes)')
    .option('--json', 'print the raw JSON')
    .action(async (o: { json?: boolean }) => {
      const r = await client().json<{ nodes: NodeRow[] }>('GET', '/v1/nodes');
      process.stdout.write(o.json ? `${JSON.stringify(r.nodes, null, 2)}\n` : `${formatNodes(r.nodes)}\n`);
    });
  program
    .command('robots')
    .description('every robot this node knows: status, battery, pose, last seen, online (GET /v1/robots)')
    .option('--json', 'print the raw JSON')
    .action(async (o: { json?: boolean }) => {
      const r = await client().json<{ robots: RobotRow[] }>('GET', '/v1/robots');
      process.stdout.write(o.json ? `${JSON.stringify(r.robots, null, 2)}\n` : `${formatRobots(r.robots)}\n`);
    });
}
