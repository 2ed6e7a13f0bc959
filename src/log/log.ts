import fs from 'node:fs';
import { FleetError, fromIoError } from '../errors.js';
import { fsyncDir, segmentPath } from './files.js';
import { RECORD_HEADER_BYTES, writeRecord } from './record.js';

export type FsyncPolicy = 'always' | 'batch' | 'interval' | 'never';

/** The file operations the log uses; tests replace some to inject faults. */
export interface LogIo {
  openSync: typeof fs.openSync;
  writeSync: (fd: number, buf: Buffer, off: number, len: number, pos: number) => number;
  fdatasync: (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => void;
  fdatasyncSync: (fd: number) => void;
  ftruncateSync: (fd: number, len: number) => void;
  closeSync: (fd: number) => void;
  fstatSync: (fd: number) => fs.Stats;
  /** fsync a directory (a segment's creation is durable only after it). */
  fsyncDir: (dir: string) => void;
}

export const defaultIo: LogIo = {
  openSync: fs.openSync,
  writeSync: (fd, buf, off, len, pos) => fs.writeSync(fd, buf, off, len, pos),
  fdatasync: fs.fdatasync,
  fdatasyncSync: fs.fdatasyncSync,
  ftruncateSync: fs.ftruncateSync,
  closeSync: fs.closeSync,
  fstatSync: (fd) => fs.fstatSync(fd),
  fsyncDir,
};

/** Automatic rolls after a failed one wait this long, doubling up to ROLL_RETRY_MAX_MS (one error line per try). */
/**
 * Under batch, a turn that stages this many records while no fsync runs starts
 * its fsync at once instead of at the end of the turn: the rest of the turn
 * is staged and written while it runs, so many writers settle into two
 * batches that alternate (one in fsync, one being staged) instead of putting
 * and syncing in series (docs/adr/0003-log-writer.md).
 */
const EARLY_FSYNC_RECORDS = 64;
const ROLL_RETRY_MIN_MS = 1000;
const ROLL_RETRY_MAX_MS = 10_000;

export interface LogOptions {
  dir: string;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  segmentBytes: number;
  activeSegment: number;
  activeSize: number;
  io?: LogIo;
  /** Called after each fsync with its duration (metrics). */
  onFsync?: (ms: number) => void;
  /** Called when a segment is closed and a new one opened. */
  onRoll?: (newSegment: number) => void;
  /** Called with errors nobody waits for (interval fsync). */
  onBackgroundError?: (err: FleetError) => void;
  /** Called when an interval fsync failed: pages written since the last good one may be lost (fsyncgate). */
  onFsyncFailed?: (err: FleetError) => void;
}

/**
 * The records appended between two writes of the stage (under `always`: one
 * record): they are written, fsynced, acknowledged or failed together, so
 * they share one promise (one allocation per batch, not per append).
 */
class Waiter {
  /** Offset in the stage just after the group's last record. */
  end = 0;
  /** Records in the group. */
  count = 0;
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (err: FleetError) => void;
  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/**
 * The append-only log writer with group commit (docs/adr/0003-log-writer.md).
 *
 * Records are copied into one staging buffer; a pump writes the stage to the
 * active segment with positional writes and, under `batch`, one fdatasync for
 * everything staged while the previous fsync ran. Each append resolves only
 * when its record is durable under the policy. On any write or fsync error
 * the segment is cut back to its last durable size and every write that was
 * not yet durable fails: nothing half-written survives, and the log keeps
 * taking writes once the cause (a full disk) is gone.
 */
export class Log {
  private readonly io: LogIo;
  private fd: number;
  private segment: number;
  /** Bytes of the active segment written to the file. */
  private fileSize: number;
  /** Bytes of the active segment known durable (or, for interval/never, written). */
  private durableSize: number;
  private stage: Buffer = Buffer.allocUnsafe(1 << 20);
  private stageLen = 0;
  /** Groups staged, not yet written; under batch at most one (`open`). */
  private waiters: Waiter[] = [];
  /** The group new appends join (the last of `waiters`), until the stage is written. */
  private open: Waiter | undefined;
  /**
   * Records written to the file while an fsync runs (batch policy), not yet
   * under an fsync of their own; `writtenStart` is where the first of them begins.
   */
  private written: Waiter[] = [];
  private writtenStart = 0;
  /** An fsync is running (batch/always: a batch's; interval: the timer's). */
  private pumping = false;
  private scheduled = false;
  private closed = false;
  private syncTimer: NodeJS.Timeout | undefined;
  private dirty = false;
  private idleWaiters: (() => void)[] = [];
  private rollWaiters: { resolve: (seg: number) => void; reject: (err: unknown) => void }[] = [];
  /** Total bytes in all segments (closed ones included). */
  totalBytes: number;
  fsyncs = 0;
  appends = 0;
  lastError: FleetError | undefined;
  /** Set when the log had to stop taking writes (a failed write it could not cut). */
  broken: FleetError | undefined;
  /** Failed segment rolls since start; the last one's error until a roll succeeds. */
  rollFailures = 0;
  rollError: FleetError | undefined;
  /** No automatic roll before this time (performance.now) after a failed one. */
  private rollRetryAt = 0;
  private rollRetryMs = ROLL_RETRY_MIN_MS;

  constructor(
    private readonly opts: LogOptions,
    closedSegmentBytes: number,
  ) {
    this.io = opts.io ?? defaultIo;
    this.segment = opts.activeSegment;
    const file = segmentPath(opts.dir, this.segment);
    const existed = fs.existsSync(file);
    this.fd = this.io.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o640);
    if (!existed) this.io.fsyncDir(opts.dir);
    this.fileSize = opts.activeSize;
    this.durableSize = opts.activeSize;
    this.totalBytes = closedSegmentBytes + opts.activeSize;
    if (opts.fsync === 'interval') {
      this.syncTimer = setInterval(() => this.backgroundSync(), Math.max(1, opts.fsyncIntervalMs));
      this.syncTimer.unref();
    }
  }

  get activeSegment(): number {
    return this.segment;
  }

  /**
   * Append one record; resolves when it is durable under the fsync policy.
   * Records appended until the stage is next written share the returned
   * promise: it settles for all of them at once, and their continuations run
   * in append order.
   */
  append(payload: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(this.broken ?? new FleetError('NODE_STOPPED', 'the log is closed'));
    const need = this.stageLen + RECORD_HEADER_BYTES + payload.length;
    if (need > this.stage.length) this.growStage(need);
    this.stageLen = writeRecord(this.stage, this.stageLen, payload);
    this.appends++;
    let g = this.open;
    if (g === undefined) {
      g = new Waiter();
      this.waiters.push(g);
      // Under always every record is a group of its own (one write and fsync each).
      if (this.opts.fsync !== 'always') this.open = g;
    }
    g.end = this.stageLen;
    g.count++;
    if (this.opts.fsync === 'batch' && !this.pumping && g.count >= EARLY_FSYNC_RECORDS) {
      this.pump();
      return g.promise;
    }
    // Under batch the stage is written while the previous fsync runs (pipelined).
    if (!this.scheduled && (!this.pumping || this.opts.fsync === 'batch')) {
      this.scheduled = true;
      // Next turn of the event loop: every append made in this turn shares the
      // write. Not a microtask: under interval/never an append resolves without
      // I/O, so a writer awaiting puts in a loop would otherwise never yield to
      // the event loop (timers, sockets and the interval fsync all starved).
      setImmediate(this.scheduledPump);
    }
    return g.promise;
  }

  private readonly scheduledPump = (): void => {
    this.scheduled = false;
    this.pump();
  };

  /** Resolve when everything appended so far is written and fsynced. */
  async flush(): Promise<void> {
    await this.whenIdle();
    if (this.closed || this.fileSize === 0 || !this.dirty) return;
    const t0 = performance.now();
    this.io.fdatasyncSync(this.fd);
    this.dirty = false;
    this.noteFsync(t0);
  }

  /**
   * Close the active segment and start a new one, between two batches (never
   * waiting for the log to be idle, which under steady load it never is).
   * Resolves with the new segment's index after every record of the old
   * segment has been acknowledged to its writer.
   */
  roll(): Promise<number> {
    if (this.closed) return Promise.reject(new FleetError('NODE_STOPPED', 'the log is closed'));
    if (this.isIdle()) {
      const err = this.tryRoll();
      return err ? Promise.reject(err) : Promise.resolve(this.segment);
    }
    return new Promise((resolve, reject) => this.rollWaiters.push({ resolve, reject }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.io.closeSync(this.fd);
  }

  private isIdle(): boolean {
    return !this.pumping && !this.scheduled && this.waiters.length === 0 && this.written.length === 0;
  }

  private whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private growStage(need: number): void {
    let size = this.stage.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.stage.copy(next, 0, 0, this.stageLen);
    this.stage = next;
  }

  /**
   * Write what is staged, then fsync it per policy; loops until the stage is
   * empty. Under `batch` the pipeline has two stages: while one batch's
   * fsync runs, records appended meanwhile are already written to the file
   * (`written`); when the fsync returns, its batch is acknowledged and one
   * fsync covers everything written since. Acknowledgements stay in append
   * order (one fsync at a time, batches in order); a failed fsync fails its
   * batch and every record after it (docs/adr/0003-log-writer.md).
   */
  private pump(): void {
    if (this.closed) return;
    const pipelined = this.opts.fsync === 'batch';
    if (this.pumping) {
      // Overlap: write the stage while the fsync runs, unless a roll waits for this fsync.
      if (pipelined && this.waiters.length > 0 && !this.rollDue()) this.writeStaged();
      return;
    }
    // A failed write leaves what was written before it, which still needs its fsync.
    if (this.waiters.length > 0) this.writeStaged();
    if (this.closed) return;
    if (this.written.length === 0) {
      this.notifyIdle();
      return;
    }
    const batch = this.written;
    const startSize = this.writtenStart;
    this.written = [];
    if (this.opts.fsync === 'batch' || this.opts.fsync === 'always') {
      const endSize = this.fileSize;
      this.pumping = true;
      const t0 = performance.now();
      this.io.fdatasync(this.fd, (err) => {
        this.pumping = false;
        if (this.closed) {
          // The log broke meanwhile (a later write it could not cut): this batch's bytes precede the damage.
          const e = err ? fromIoError(err, 'fsync') : undefined;
          for (const w of batch) e ? w.reject(e) : w.resolve();
          return;
        }
        if (err) {
          this.failFrom(startSize, batch, fromIoError(err, `fsync of ${segmentPath(this.opts.dir, this.segment)}`));
          return;
        }
        // Records written while it ran are not covered by it.
        this.dirty = this.written.length > 0;
        this.noteFsync(t0);
        this.durableSize = endSize;
        this.afterDurable(batch);
      });
    } else {
      this.durableSize = this.fileSize;
      this.afterDurable(batch);
    }
  }

  /**
   * Move staged records to the file (`always`: one record). On a write error
   * the file is cut back to where this write began and this write's records
   * and everything staged after them fail; records written before (and an
   * fsync running for them) are not touched. Returns false on failure.
   */
  private writeStaged(): boolean {
    const take = this.opts.fsync === 'always' ? 1 : this.waiters.length;
    const batch = this.waiters.splice(0, take);
    this.open = undefined;
    const bytes = batch[batch.length - 1]!.end;
    const startSize = this.fileSize;
    try {
      this.writeFully(this.stage, bytes);
    } catch (err) {
      this.failWrite(startSize, batch, fromIoError(err, `write to ${segmentPath(this.opts.dir, this.segment)}`));
      return false;
    }
    // Shift the rest of the stage down; waiter offsets follow.
    this.stage.copy(this.stage, 0, bytes, this.stageLen);
    this.stageLen -= bytes;
    for (const w of this.waiters) w.end -= bytes;
    this.totalBytes += bytes;
    this.dirty = true;
    if (this.written.length === 0) this.writtenStart = startSize;
    for (const w of batch) this.written.push(w);
    return true;
  }

  /** A roll is wanted now: requested, or the segment is full (and no failed roll is backing off). */
  private rollDue(): boolean {
    return this.rollWaiters.length > 0 || (this.fileSize >= this.opts.segmentBytes && performance.now() >= this.rollRetryAt);
  }

  private afterDurable(batch: Waiter[]): void {
    this.lastError = undefined;
    let rollers: typeof this.rollWaiters = [];
    let rollError: FleetError | undefined;
    // A size-triggered roll after a failed one waits for its retry time (the
    // segment grows meanwhile, the log keeps working); a requested roll always tries.
    // Only with nothing written past this batch: the next pump syncs that first.
    if (this.written.length === 0 && this.rollDue()) {
      rollers = this.rollWaiters;
      this.rollWaiters = [];
      rollError = this.tryRoll();
    }
    for (const w of batch) w.resolve();
    // After the batch: a roller's continuation runs after the writers' continuations.
    for (const r of rollers) {
      if (rollError) r.reject(rollError);
      else r.resolve(this.segment);
    }
    this.pump();
  }

  private writeFully(buf: Buffer, len: number): void {
    let off = 0;
    while (off < len) {
      // A full disk first answers with a short write, then ENOSPC: keep going until it throws.
      const n = this.io.writeSync(this.fd, buf, off, len - off, this.fileSize);
      if (n <= 0) throw Object.assign(new Error('write returned 0 bytes'), { code: 'ENOSPC' });
      off += n;
      this.fileSize += n;
    }
  }

  /**
   * A write or fsync failed: cut the segment back to where this batch began
   * and fail the batch and everything staged after it (none of it is durable,
   * and later records must not land after a hole).
   */
  private failFrom(startSize: number, batch: Waiter[], err: FleetError): void {
    this.pumping = false;
    this.lastError = err;
    const rollers = this.rollWaiters;
    this.rollWaiters = [];
    const failed = batch.concat(this.written, this.waiters);
    this.written = [];
    this.waiters = [];
    this.open = undefined;
    this.stageLen = 0;
    this.cutBack(startSize);
    for (const w of failed) w.reject(err);
    for (const r of rollers) r.reject(err);
    this.notifyIdle();
  }

  /**
   * A write failed while earlier records may still be under an fsync: cut the
   * file back to where this write began, fail this write's records and every
   * record staged after them; what was written before stays (its fsync decides).
   */
  private failWrite(startSize: number, batch: Waiter[], err: FleetError): void {
    if (this.written.length === 0 && !this.pumping) {
      this.failFrom(startSize, batch, err);
      return;
    }
    this.lastError = err;
    const failed = batch.concat(this.waiters);
    this.waiters = [];
    this.open = undefined;
    this.stageLen = 0;
    if (!this.cutBack(startSize)) {
      // Nothing after the bad bytes can be trusted: what waits for the running fsync fails too.
      for (const w of this.written) failed.push(w);
      this.written = [];
    }
    for (const w of failed) w.reject(err);
    this.notifyIdle();
  }

  /** Truncate the segment back to `startSize`; if that fails the log refuses further writes (returns false). */
  private cutBack(startSize: number): boolean {
    try {
      this.io.ftruncateSync(this.fd, startSize);
      this.totalBytes -= this.fileSize - startSize;
      this.fileSize = startSize;
      this.durableSize = Math.min(this.durableSize, startSize);
      return true;
    } catch (truncErr) {
      // Cannot cut the bad bytes: refuse further writes rather than write after them.
      this.closed = true;
      this.broken = fromIoError(truncErr, 'the log could not cut a failed write and refuses writes until restarted');
      this.opts.onBackgroundError?.(fromIoError(truncErr, 'truncating a failed write'));
      return false;
    }
  }

  /** Roll now; on failure note it (rate-limited retries, one error report per try) and return the error. */
  private tryRoll(): FleetError | undefined {
    try {
      this.rollNow();
    } catch (err) {
      const e = fromIoError(err, 'segment roll');
      this.rollFailures++;
      this.rollError = e;
      this.rollRetryAt = performance.now() + this.rollRetryMs;
      this.opts.onBackgroundError?.(new FleetError(e.code, `${e.message} (roll failure ${this.rollFailures}; the log keeps appending to segment ${this.segment}; next automatic try in ${this.rollRetryMs} ms)`, err));
      this.rollRetryMs = Math.min(this.rollRetryMs * 2, ROLL_RETRY_MAX_MS);
      return e;
    }
    this.rollError = undefined;
    this.rollRetryMs = ROLL_RETRY_MIN_MS;
    this.rollRetryAt = 0;
    return undefined;
  }

  /**
   * Close the active segment and switch to the next. Retryable: a failure at
   * any step leaves the active segment as it was and no descriptor open; the
   * next segment's file, if a failed try left it behind empty, is reused.
   */
  private rollNow(): void {
    if (this.dirty) {
      this.io.fdatasyncSync(this.fd);
      this.dirty = false;
    }
    const next = this.segment + 1;
    const fd = this.openNextSegment(segmentPath(this.opts.dir, next));
    try {
      // The new file's directory entry must be durable before records go into it.
      this.io.fsyncDir(this.opts.dir);
    } catch (err) {
      this.io.closeSync(fd);
      throw err;
    }
    this.io.closeSync(this.fd);
    this.fd = fd;
    this.segment = next;
    this.fileSize = 0;
    this.durableSize = 0;
    this.opts.onRoll?.(next);
  }

  private openNextSegment(file: string): number {
    try {
      return this.io.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o640);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // Left by a roll that failed after creating it: reuse it if it holds nothing.
    const fd = this.io.openSync(file, fs.constants.O_WRONLY, 0o640);
    let size: number;
    try {
      size = this.io.fstatSync(fd).size;
    } catch (err) {
      this.io.closeSync(fd);
      throw err;
    }
    if (size !== 0) {
      this.io.closeSync(fd);
      throw new FleetError('LOG_CORRUPT', `segment roll: the next segment ${file} already exists and holds ${size} bytes; the log keeps appending to segment ${this.segment} (run \`fleetkv verify\`)`);
    }
    return fd;
  }

  private backgroundSync(): void {
    if (!this.dirty || this.pumping || this.closed) return;
    this.pumping = true;
    const t0 = performance.now();
    this.dirty = false;
    this.io.fdatasync(this.fd, (err) => {
      this.pumping = false;
      if (err) {
        this.dirty = true;
        const e = fromIoError(err, 'interval fsync');
        this.opts.onBackgroundError?.(e);
        this.opts.onFsyncFailed?.(e);
      } else {
        this.noteFsync(t0);
      }
      this.pump();
    });
  }

  private noteFsync(t0: number): void {
    this.fsyncs++;
    this.opts.onFsync?.(performance.now() - t0);
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) w();
  }
}
