import fs from 'node:fs';
import path from 'node:path';
import { unsafeTestBreaks } from '../util/test-breaks.js';

/** Segment and snapshot file names: 20-digit, zero-padded, so they sort by name. */
const SEG_RE = /^(\d{20})\.seg$/;
const SNAP_RE = /^snapshot-(\d{20})\.snap$/;

export function segmentName(index: number): string {
  return `${String(index).padStart(20, '0')}.seg`;
}

export function snapshotName(firstSegment: number): string {
  return `snapshot-${String(firstSegment).padStart(20, '0')}.snap`;
}

export interface DirListing {
  segments: number[];
  snapshots: number[];
}

export function listLogDir(dir: string): DirListing {
  const segments: number[] = [];
  const snapshots: number[] = [];
  for (const name of fs.readdirSync(dir)) {
    let m = SEG_RE.exec(name);
    if (m) segments.push(Number(m[1]));
    else if ((m = SNAP_RE.exec(name))) snapshots.push(Number(m[1]));
  }
  segments.sort((a, b) => a - b);
  snapshots.sort((a, b) => a - b);
  return { segments, snapshots };
}

/** fsync a directory so that a create, rename or unlink in it is durable. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** FLEETKV_UNSAFE_TEST_BREAK=skip-dir-fsync: a broken build for the campaign (see util/test-breaks.ts). */
const SKIP_DIR_FSYNC = unsafeTestBreaks.has('skip-dir-fsync');

/** Rename `from` over `to` and fsync the directory, so the new name survives a power cut. */
export function renameDurably(from: string, to: string): void {
  fs.renameSync(from, to);
  if (!SKIP_DIR_FSYNC) fsyncDir(path.dirname(to));
}

export function segmentPath(dir: string, index: number): string {
  return path.join(dir, segmentName(index));
}

export function snapshotPath(dir: string, firstSegment: number): string {
  return path.join(dir, snapshotName(firstSegment));
}
