import fs from 'node:fs';
import readline from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { FleetConfig } from '../config/schema.js';
import { FleetError, isFleetError } from '../errors.js';
import { entryJson } from '../entry/json.js';
import { maxLogRecordBytes } from '../log/record.js';
import { withOfflineNode } from '../ops/offline.js';
import { checkSnapshotFile, restoreSnapshot } from '../ops/restore.js';
import { snapshotChunks } from '../ops/snapshot-stream.js';
import type { NodeClient } from './client.js';
import { formatBytes } from './format.js';
import { registerSim } from './sim.js';

interface OfflineOpts {
  config?: string;
  dataDir?: string;
  nodeId?: string;
  offline?: boolean;
}

/** Operator commands: snapshot, restore, export, import (and sim). */
export function registerOps(program: Command, client: () => NodeClient): void {
  const offlineOptions = (cmd: Command): Command =>
    cmd.option('-c, --config <file>', 'config file of the node (offline)').option('--data-dir <dir>', 'data directory (offline; default: from config)').option('--node-id <id>', 'node id (offline; default: from config)');

  offlineOptions(
    program
      .command('snapshot')
      .description("back up a node to FILE: from the running node (--url), or from a stopped node's data dir with --offline / --data-dir")
      .requiredOption('-o, --out <file>', 'snapshot file to write')
      .option('--offline', 'read the data dir of a stopped node instead of asking the running one'),
  ).action(async (o: OfflineOpts & { out: string }) => {
    const tmp = `${o.out}.partial`;
    try {
      if (isOffline(o)) {
        await withOfflineNode(offlineConfig(o), (node) => pipeline(Readable.from(snapshotChunks(node)), fs.createWriteStream(tmp, { mode: 0o640 })));
      } else {
        const res = await client().request('GET', '/v1/admin/snapshot');
        await pipeline(Readable.fromWeb(res.body as never), fs.createWriteStream(tmp, { mode: 0o640 }));
      }
      fsyncFile(tmp);
      const s = checkSnapshotFile(tmp, Number.MAX_SAFE_INTEGER);
      fs.renameSync(tmp, o.out);
      process.stdout.write(`Wrote ${o.out}: node ${s.meta.nodeId}, ${s.entries - s.tombstones} keys, ${s.tombstones} tombstones, ${formatBytes(s.bytes)}\n`);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
  });

  offlineOptions(
    program
      .command('restore <file>')
      .description("restore a snapshot into a STOPPED node's data dir (its old files are moved aside); the node starts a new incarnation")
      .option('--incarnation <n>', 'start at least at this incarnation (if peers know a newer one than the backup)'),
  ).action((file: string, o: OfflineOpts & { incarnation?: string }) => {
    if (!fs.existsSync(file)) throw new FleetError('NOT_FOUND', `snapshot ${file} does not exist`);
    const cfg = offlineConfig(o);
    const min = o.incarnation === undefined ? undefined : Number(o.incarnation);
    if (min !== undefined && !(Number.isInteger(min) && min >= 1 && min < 2 ** 32)) throw new FleetError('USAGE', '--incarnation must be a positive integer');
    const r = restoreSnapshot(file, { dataDir: cfg.dataDir, nodeId: cfg.nodeId, fsync: cfg.log.fsync, maxRecordBytes: maxLogRecordBytes(cfg.limits.maxValueBytes), ...(min ? { minIncarnation: min } : {}) });
    const s = r.summary;
    process.stdout.write(`Restored ${s.entries - s.tombstones} keys and ${s.tombstones} tombstones (snapshot of ${s.meta.nodeId}, ${s.meta.createdAt}) into ${cfg.dataDir}\n`);
    if (r.movedAside) process.stdout.write(`The data dir's previous files are in ${r.movedAside} (delete it once the node runs well)\n`);
    process.stdout.write(`Node ${cfg.nodeId} starts incarnation ${r.incarnation}; peers send it what was written since the backup.\n`);
  });

  offlineOptions(
    program
      .command('export [prefix]')
      .description('write every live key under a prefix as JSON lines {key, value[, encoding], origin, inc, seq, hlc}')
      .option('-o, --out <file>', 'file to write (default: stdout)')
      .option('--offline', 'read the data dir of a stopped node instead of asking the running one'),
  ).action(async (prefix: string | undefined, o: OfflineOpts & { out?: string }) => {
    const out: NodeJS.WritableStream = o.out ? fs.createWriteStream(o.out, { mode: 0o640 }) : process.stdout;
    let n = 0;
    const write = async (line: unknown): Promise<void> => {
      n++;
      if (!out.write(`${JSON.stringify(line)}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
    };
    if (isOffline(o)) {
      await withOfflineNode(offlineConfig(o), async (node) => {
        for (const e of node.store.list(prefix ?? '')) await write(entryJson(e));
      });
    } else {
      let after: string | undefined;
      do {
        const q = `/v1/kv?prefix=${encodeURIComponent(prefix ?? '')}&limit=1000${after !== undefined ? `&after=${encodeURIComponent(after)}` : ''}`;
        const page = await client().json<{ entries: unknown[]; next?: string }>('GET', q);
        for (const e of page.entries) await write(e);
        after = page.next;
      } while (after !== undefined);
    }
    if (o.out) await new Promise<void>((resolve, reject) => (out as fs.WriteStream).end((err?: Error | null) => (err ? reject(err) : resolve())));
    process.stderr.write(`Exported ${n} keys\n`);
  });

  program
    .command('import [file]')
    .description('write JSON lines {key, value[, encoding: "base64"]} (or {key, op: "del"}) through the running node (stdin when FILE is omitted or "-"); each becomes a new write of that node')
    .option('--concurrency <n>', 'writes in flight (they share fsyncs: more in flight, fewer fsyncs per write)', '64')
    .action(async (file: string | undefined, o: { concurrency: string }) => {
      const input = file === undefined || file === '-' ? process.stdin : fs.createReadStream(file);
      const limit = Math.max(1, Math.min(256, Number(o.concurrency) || 64));
      const c = client();
      let lineNo = 0;
      let written = 0;
      let refused = 0;
      const inFlight = new Set<Promise<void>>();
      const byKey = new Map<string, Promise<void>>();
      const refuse = (n: number, why: string): void => {
        refused++;
        process.stderr.write(`line ${n}: ${why}\n`);
      };
      for await (const text of readline.createInterface({ input, crlfDelay: Infinity })) {
        lineNo++;
        if (text.trim() === '') continue;
        const n = lineNo;
        let op: { key: string; value?: Buffer };
        try {
          op = parseImportLine(text);
        } catch (err) {
          refuse(n, (err as Error).message);
          continue;
        }
        // Lines for the same key are written in file order: the last one wins, as in the file.
        const before = byKey.get(op.key);
        if (before) await before;
        const p = (op.value ? c.put(op.key, op.value) : c.del(op.key)).then(
          () => void written++,
          (err: unknown) => {
            if (isFleetError(err, 'UNAVAILABLE')) throw err;
            refuse(n, `${op.key}: ${(err as Error).message}`);
          },
        );
        const settled = p.catch(() => {});
        const tracked: Promise<void> = p.finally(() => {
          inFlight.delete(tracked);
          if (byKey.get(op.key) === settled) byKey.delete(op.key);
        });
        inFlight.add(tracked);
        byKey.set(op.key, settled);
        if (inFlight.size >= limit) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      process.stdout.write(`Imported ${written} of ${written + refused} lines${refused ? ` (${refused} refused: see above)` : ''}\n`);
      if (refused) process.exitCode = 1;
    });

  registerSim(program);
}

/** One import line: `{key, value, encoding?}` to put, `{key, op: "del"}` to delete. */
export function parseImportLine(text: string): { key: string; value?: Buffer } {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw new Error('not valid JSON');
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error('not a JSON object');
  const { key, value, encoding, op } = j as Record<string, unknown>;
  if (typeof key !== 'string' || key === '') throw new Error('"key" must be a non-empty string');
  if (op === 'del') return { key };
  if (op !== undefined && op !== 'put') throw new Error(`"op" must be "put" or "del", not ${JSON.stringify(op)}`);
  if (typeof value !== 'string') throw new Error('"value" must be a string (text, or base64 with "encoding": "base64")');
  if (encoding === 'base64') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new Error('"value" is not valid base64');
    return { key, value: Buffer.from(value, 'base64') };
  }
  if (encoding !== undefined && encoding !== 'utf8') throw new Error(`unknown "encoding" ${JSON.stringify(encoding)}`);
  return { key, value: Buffer.from(value, 'utf8') };
}

function isOffline(o: OfflineOpts): boolean {
  return o.offline === true || o.dataDir !== undefined;
}

function offlineConfig(o: OfflineOpts): FleetConfig {
  const args: string[] = [];
  if (o.dataDir) args.push('--data-dir', o.dataDir);
  if (o.nodeId) args.push('--node-id', o.nodeId);
  return loadConfig({ file: o.config, args });
}

function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
