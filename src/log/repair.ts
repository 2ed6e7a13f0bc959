import fs from 'node:fs';
import { fsyncDir, listLogDir, segmentPath, snapshotPath } from './files.js';
import { KIND } from './record.js';
import { scanFile } from './scan-file.js';

export interface VerifyReport {
  ok: boolean;
  files: { file: string; records: number; bytes: number; problem?: string; offset?: number }[];
}

/** Check every CRC of a (stopped) node's log offline, touching nothing. */
export function verifyLog(dir: string, maxRecordBytes: number): VerifyReport {
  const { segments, snapshots } = listLogDir(dir);
  const report: VerifyReport = { ok: true, files: [] };
  const check = (file: string, isSnapshot: boolean): void => {
    let records = 0;
    let ended = false;
    // The same chunked reader as recovery: a 64 MiB segment or a large snapshot is not read whole.
    const scan = scanFile(file, maxRecordBytes, (p) => {
      records++;
      if (p[0] === KIND.SNAPSHOT_END) ended = true;
    });
    const item: VerifyReport['files'][number] = { file, records, bytes: fs.statSync(file).size };
    if (!scan.ok) {
      item.problem = scan.reason;
      item.offset = scan.end;
    } else if (isSnapshot && !ended) {
      item.problem = 'snapshot has no end record';
      item.offset = scan.end;
    }
    if (item.problem) report.ok = false;
    report.files.push(item);
  };
  for (const s of snapshots) check(snapshotPath(dir, s), true);
  for (const s of segments) check(segmentPath(dir, s), false);
  return report;
}

/**
 * Make a damaged log startable again: cut the first damaged segment at its
 * first bad record and move that tail, and every later segment, aside as
 * `*.corrupt` files (kept for inspection). A damaged snapshot is moved aside
 * too. What was cut is lost locally; peers send it back through catch-up.
 * The caller starts a new incarnation, since the cut may hold own writes
 * that peers already have.
 */
export function repairLog(dir: string, maxRecordBytes: number): { actions: string[] } {
  const actions: string[] = [];
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const aside = (file: string): void => {
    fs.renameSync(file, `${file}.corrupt-${stamp}`);
    actions.push(`moved ${file} aside to ${file}.corrupt-${stamp}`);
  };
  const report = verifyLog(dir, maxRecordBytes);
  let cutting = false;
  for (const f of report.files) {
    if (f.file.endsWith('.snap')) {
      if (f.problem) aside(f.file);
      continue;
    }
    if (cutting) {
      aside(f.file);
      continue;
    }
    if (f.problem && f.offset !== undefined) {
      const buf = fs.readFileSync(f.file);
      fs.writeFileSync(`${f.file}.corrupt-${stamp}`, buf.subarray(f.offset));
      fs.truncateSync(f.file, f.offset);
      actions.push(`cut ${f.file} at offset ${f.offset} (${f.problem}); the ${buf.length - f.offset} bytes after it are in ${f.file}.corrupt-${stamp}`);
      cutting = true;
    }
  }
  if (actions.length > 0) fsyncDir(dir);
  return { actions };
}
