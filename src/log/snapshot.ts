import fs from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { fsyncDir, listLogDir, renameDurably, segmentPath, snapshotPath } from './files.js';
import { KIND, RECORD_HEADER_BYTES, jsonPayload, parseJsonPayload, writeRecord } from './record.js';
import { scanFile } from './scan-file.js';

/** What a snapshot holds besides entries. */
export interface SnapshotMeta {
  format: 1;
  nodeId: string;
  vector: Record<string, number>;
  hlc: { wall: number; logical: number };
  createdAt: string;
}

/** The snapshot header of a node's state now: what compaction writes and what a backup streams. */
export function snapshotMeta(nodeId: string, vector: Record<string, number>, clock: { readonly wall: number; readonly logical: number }): SnapshotMeta {
  return { format: 1, nodeId, vector, hlc: { wall: clock.wall, logical: clock.logical }, createdAt: new Date().toISOString() };
}

const CHUNK_BYTES = 1 << 20;
/** Entries framed per turn of the event loop, so writes go on beside a snapshot. */
const ENTRIES_PER_TURN = 5000;

/**
 * A snapshot in the log's format (BEGIN meta, every entry, END count), as
 * chunks of about 1 MiB: the one encoder of compaction (writeSnapshot) and
 * of backups (ops/snapshot-stream.ts). Entries are taken from a live
 * iterator; it yields to the event loop every few thousand entries. `stats`
 * counts the entries framed so far.
 */
export async function* snapshotRecords(meta: SnapshotMeta, entries: Iterable<{ raw: Buffer }>, stats: { entries: number } = { entries: 0 }): AsyncGenerator<Buffer> {
  let buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let len = 0;
  /** Frame a record; returns the full chunk to hand out first, if the record does not fit. */
  const put = (payload: Uint8Array): Buffer | undefined => {
    const need = RECORD_HEADER_BYTES + payload.length;
    let full: Buffer | undefined;
    if (len + need > buf.length) {
      full = buf.subarray(0, len);
      buf = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, need)); // the old chunk belongs to the consumer now
      len = 0;
    }
    len = writeRecord(buf, len, payload);
    return full;
  };
  const first = put(jsonPayload(KIND.SNAPSHOT_BEGIN, meta));
  if (first && first.length > 0) yield first;
  let n = 0;
  for (const e of entries) {
    const full = put(e.raw);
    stats.entries++;
    if (full && full.length > 0) yield full;
    if (++n === ENTRIES_PER_TURN) {
      n = 0;
      await yieldToLoop();
    }
  }
  const end = Buffer.alloc(5);
  end[0] = KIND.SNAPSHOT_END;
  end.writeUInt32BE(stats.entries >>> 0, 1);
  const full = put(end);
  if (full && full.length > 0) yield full;
  yield buf.subarray(0, len);
}

/**
 * Write a snapshot covering every segment below `firstSegment`: to a temp
 * file, fsync, rename, fsync the directory. Entries are taken from a live
 * iterator a few thousand at a time; an entry changed meanwhile is written in
 * its newer form, which is harmless because replaying the segments from
 * `firstSegment` on is idempotent under LWW.
 */
export async function writeSnapshot(dir: string, firstSegment: number, meta: SnapshotMeta, entries: Iterable<{ raw: Buffer }>): Promise<{ file: string; bytes: number; entries: number }> {
  const file = snapshotPath(dir, firstSegment);
  const tmp = `${file}.tmp`;
  const fh = await fs.promises.open(tmp, 'w', 0o640);
  let bytes = 0;
  const stats = { entries: 0 };
  try {
    for await (const chunk of snapshotRecords(meta, entries, stats)) {
      await fh.write(chunk);
      bytes += chunk.length;
    }
    await fh.datasync();
  } catch (err) {
    await fh.close().catch(() => {});
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  renameDurably(tmp, file);
  return { file, bytes, entries: stats.entries };
}

/** What a snapshot file holds, once read and checked. */
export interface SnapshotRead {
  meta: SnapshotMeta;
  entries: number;
  bytes: number;
}

/**
 * Read a snapshot file record by record (in chunks, not whole) and check it:
 * CRCs, the header first, the end record last with the count of the entries
 * between, nothing after it. `onRecord` gets the header's and each entry's
 * payload (a view: copy to keep). The one reader of recovery
 * (log/recovery.ts) and of restore's check (ops/restore.ts): a problem is
 * thrown as `bad(why, offset)`, each caller naming it its way.
 */
export function readSnapshotFile(file: string, maxRecordBytes: number, onRecord: (payload: Buffer, offset: number) => void, bad: (why: string, offset: number) => Error): SnapshotRead {
  let meta: SnapshotMeta | undefined;
  let entries = 0;
  let endCount: number | undefined;
  let problem: { why: string; at: number } | undefined;
  const scan = scanFile(file, maxRecordBytes, (p, off) => {
    if (problem) return;
    if (endCount !== undefined) problem = { why: `record after the end record at offset ${off}`, at: off };
    else if (meta === undefined) {
      if (p[0] !== KIND.SNAPSHOT_BEGIN) problem = { why: 'does not start with a snapshot header', at: off };
      else {
        meta = parseJsonPayload<SnapshotMeta>(p);
        onRecord(p, off);
      }
    } else if (p[0] === KIND.SNAPSHOT_END) endCount = p.readUInt32BE(1);
    else if (p[0] === KIND.ENTRY) {
      entries++;
      onRecord(p, off);
    } else problem = { why: `unexpected record kind ${p[0]} at offset ${off}`, at: off };
  });
  if (!scan.ok) throw bad(`${scan.reason} at offset ${scan.end}`, scan.end);
  if (problem) throw bad(problem.why, problem.at);
  if (!meta) throw bad('empty file', 0);
  if (meta.format !== 1) throw bad(`snapshot format ${String(meta.format)}; this fleetkv reads format 1`, 0);
  if (endCount === undefined) throw bad('no end record (truncated?)', scan.end);
  if (endCount !== entries >>> 0) throw bad(`end record counts ${endCount} entries, the file holds ${entries}`, scan.end);
  return { meta, entries, bytes: scan.end };
}

/** Delete segments and older snapshots that the snapshot at `firstSegment` covers. */
export function removeCovered(dir: string, firstSegment: number): number {
  const { segments, snapshots } = listLogDir(dir);
  let freed = 0;
  for (const s of segments) {
    if (s >= firstSegment) continue;
    const p = segmentPath(dir, s);
    freed += fs.statSync(p).size;
    fs.rmSync(p);
  }
  for (const s of snapshots) {
    if (s < firstSegment) fs.rmSync(snapshotPath(dir, s));
  }
  fsyncDir(dir);
  return freed;
}
