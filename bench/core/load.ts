/**
 * Load generators for the core benchmark: closed-loop writers, the raw
 * append + fdatasync loop, and an HTTP PUT client on keep-alive sockets.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

export interface LoadFigures {
  ops: number;
  seconds: number;
  perSec: number;
  p50Ms: number;
  p99Ms: number;
}

/** Bytes of one framed log record in every write benchmark (the raw loop writes records of this size too). */
export const RECORD_BYTES = 200;
/** Origin used by the benchmark nodes; its length enters the record size. */
export const BENCH_NODE_ID = 'bench';
/** Framing (8) + entry header (25) + origin: what a record holds besides key and value. */
const RECORD_OVERHEAD = 8 + 25 + BENCH_NODE_ID.length;
/** Each writer cycles over this many keys of its own, so the state stays small. */
const KEYS_PER_WRITER = 1000;

/** Key of writer `w`'s `i`-th write; fixed length, so every record is RECORD_BYTES. */
export function benchKey(w: number, i: number): string {
  return `w${String(w).padStart(3, '0')}/k${String(i % KEYS_PER_WRITER).padStart(3, '0')}`;
}

/** A value that makes a record with `benchKey` exactly RECORD_BYTES long. */
export const BENCH_VALUE = Buffer.alloc(RECORD_BYTES - RECORD_OVERHEAD - benchKey(0, 0).length, 'v');

/**
 * `writers` concurrent loops, each awaiting `op` before issuing its next one,
 * for `warmupMs` unmeasured and then `ms` measured. Returns completed ops per
 * second and latency percentiles of the measured part.
 */
export async function closedLoop(writers: number, ms: number, op: (w: number, i: number) => Promise<unknown>, warmupMs = 300): Promise<LoadFigures> {
  const lat: number[] = [];
  let measuring = false;
  let stop = false;
  let ops = 0;
  const loop = async (w: number): Promise<void> => {
    for (let i = 0; !stop; i++) {
      const t = performance.now();
      await op(w, i);
      if (measuring) {
        ops++;
        lat.push(performance.now() - t);
      }
    }
  };
  const running = Array.from({ length: writers }, (_, w) => loop(w));
  await sleep(warmupMs);
  measuring = true;
  const t0 = performance.now();
  await sleep(ms);
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(running);
  return { ops, seconds, perSec: ops / seconds, ...percentiles(lat) };
}

/**
 * The machine's limit for this workload: append `group` records of
 * RECORD_BYTES with one write, then fdatasync; repeat for `ms`.
 */
export function rawAppendFsync(dir: string, group: number, ms: number): LoadFigures {
  const file = path.join(dir, `raw-${group}.seg`);
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o640);
  const buf = Buffer.alloc(group * RECORD_BYTES, 'r');
  const lat: number[] = [];
  let pos = 0;
  let ops = 0;
  try {
    const t0 = performance.now();
    const end = t0 + ms;
    for (let t = t0; t < end; ) {
      fs.writeSync(fd, buf, 0, buf.length, pos);
      pos += buf.length;
      fs.fdatasyncSync(fd);
      const now = performance.now();
      lat.push(now - t);
      t = now;
      ops += group;
    }
    const seconds = (performance.now() - t0) / 1000;
    return { ops, seconds, perSec: ops / seconds, ...percentiles(lat) };
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
}

/** PUT `value` to `/v1/kv/<key>` over a keep-alive agent; resolves on a 2xx answer. */
export function httpPut(agent: http.Agent, port: number, key: string, value: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, host: '127.0.0.1', port, method: 'PUT', path: `/v1/kv/${key}`, headers: { 'content-length': value.length } }, (res) => {
      res.resume();
      res.on('end', () => ((res.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`PUT ${key}: HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('socket', (s) => s.setNoDelay(true));
    req.on('error', reject);
    req.end(value);
  });
}

/** A keep-alive agent with one socket per writer. */
export function keepAliveAgent(sockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
}

function percentiles(lat: number[]): { p50Ms: number; p99Ms: number } {
  if (lat.length === 0) return { p50Ms: NaN, p99Ms: NaN };
  const s = Float64Array.from(lat).sort();
  return { p50Ms: s[Math.floor(s.length * 0.5)]!, p99Ms: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]! };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
