import fs from 'node:fs';
import { Command, Option, type CommanderError } from 'commander';
import { loadConfig } from '../config/load.js';
import { FleetError } from '../errors.js';
import { configFlags, EXIT, fail } from './exit.js';
import { startNode } from './start.js';
import { maxLogRecordBytes } from '../log/record.js';
import { repairLog, verifyLog } from '../log/repair.js';
import { readMeta, writeMeta } from '../log/datadir.js';
import { newIncarnation } from '../log/identity.js';
import { VERSION } from '../version.js';
import { NodeClient } from './client.js';
import { formatStatus, formatPeer } from './format.js';
import { registerPasswd } from './passwd.js';
import { registerToken } from './token.js';
import { registerOps } from './ops.js';
import { registerRobots } from './robots.js';
import { parseTtl } from '../entry/ttl.js';
import { runShell } from './shell.js';
import { followWatch } from './watch.js';

const EXIT_HELP = `
Exit codes: 0 ok, 1 error (the message names its code, e.g. KEY_INVALID), 3 key not found,
64 usage (unknown command or option, missing or bad argument), 69 node unreachable, 78 bad configuration.`;

/** A default as `fleetkv start --help` shows it. */
function shownDefault(v: unknown): string {
  if (Array.isArray(v)) return v.length ? v.join(',') : 'none';
  return v === '' ? 'empty' : String(v);
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** commander's own errors (unknown command or option, missing argument) are usage errors: exit 64. */
function usageExit(err: CommanderError): never {
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(EXIT.OK);
  process.exit(EXIT.USAGE);
}

export function buildProgram(): Command {
  const program = new Command('fleetkv')
    .description('Replicated key-value store for robot fleets: durable log, peer-to-peer replication, embedded MQTT broker')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_HELP)
    // Set before the commands are added, so that every subcommand inherits it.
    .exitOverride(usageExit);
  const client = (): NodeClient => new NodeClient(program.opts<{ url?: string }>().url);
  program.addOption(new Option('--url <url>', 'node to talk to (client commands)').env('FLEETKV_URL'));

  const start = program.command('start').description('run a node (config: defaults < /etc/fleetkv/fleetkv.json or --config < FLEETKV_* env < flags)').option('-c, --config <file>', 'config file (JSON)').allowUnknownOption(false);
  const flags = configFlags();
  for (const f of flags) start.option(`--${f.flag} <value>`, `${f.doc} (${f.key}; default: ${shownDefault(f.default)})`);
  start.action(async (opts: Record<string, string>) => {
    const args: string[] = [];
    for (const f of flags) {
      const camel = f.flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      if (opts[camel] !== undefined) args.push(`--${f.flag}`, opts[camel]);
    }
    await startNode(opts.config, args);
  });

  program
    .command('put <key> [value]')
    .description('store a value (read from stdin when omitted or "-"); answers after it is durable')
    .option('--ttl <duration>', 'hide the key this long after the write (250ms, 3s, 5m, 1h); a refresh is a new put')
    .action(async (key: string, value: string | undefined, o: { ttl?: string }) => {
      if (value === undefined && process.stdin.isTTY) {
        // Reading a terminal would wait silently for Ctrl-D and store whatever was typed.
        throw new FleetError('USAGE', `no value for ${key}: fleetkv put <key> <value>, or pipe the value in (… | fleetkv put ${key}, or fleetkv put ${key} - to type it, Ctrl-D ends)`);
      }
      if (o.ttl !== undefined) parseTtl(o.ttl); // a bad ttl is refused before reading stdin
      const body = value === undefined || value === '-' ? await readStdin() : Buffer.from(value, 'utf8');
      const r = await client().put(key, body, o.ttl);
      process.stdout.write(`Stored ${key} (seq ${r.seq}, hlc ${r.hlc})\n`);
    });
  program
    .command('get <key>')
    .description('print a value (exit 3 if absent)')
    .action(async (key: string) => {
      process.stdout.write(await client().get(key));
      if (process.stdout.isTTY) process.stdout.write('\n');
    });
  program
    .command('del <key>')
    .alias('delete')
    .description('delete a key')
    .action(async (key: string) => {
      await client().del(key);
      process.stdout.write(`Deleted ${key}\n`);
    });
  program
    .command('ls [prefix]')
    .description('list keys and values under a prefix')
    .option('--json', 'print the raw JSON')
    .action(async (prefix: string | undefined, o: { json?: boolean }) => {
      const r = await client().list(prefix ?? '');
      if (o.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      else for (const e of r.entries) process.stdout.write(`${e.key}\t${e.encoding === 'base64' ? `<${Buffer.from(e.value ?? '', 'base64').length} bytes>` : e.value}\n`);
    });
  program
    .command('watch [prefix]')
    .description('follow changes under a prefix, one JSON line each; reconnects and resumes by itself (Ctrl-C to stop)')
    .option('--initial', 'print current values first')
    .action(async (prefix: string | undefined, o: { initial?: boolean }) => {
      await followWatch(client(), prefix ?? '', { initial: o.initial === true });
    });
  program
    .command('status')
    .description('node status: peers, lag, log size, last compaction')
    .option('--json', 'print the raw JSON')
    .action(async (o: { json?: boolean }) => {
      const s = await client().status();
      process.stdout.write(o.json ? `${JSON.stringify(s, null, 2)}\n` : `${formatStatus(s)}\n`);
    });
  program
    .command('peers')
    .description('peer connections: state, vector, lag')
    .option('--json', 'print the raw JSON')
    .action(async (o: { json?: boolean }) => {
      const peers = (await client().status()).peers;
      if (o.json) process.stdout.write(`${JSON.stringify(peers, null, 2)}\n`);
      else if (peers.length === 0) process.stdout.write('no peers\n');
      else for (const p of peers) process.stdout.write(`${formatPeer(p)}\n`);
    });
  program
    .command('shell')
    .description('interactive prompt: put, get, del, ls, status')
    .action(async () => runShell(client()));
  registerToken(program);
  registerPasswd(program);
  program
    .command('compact')
    .description('write a snapshot now and drop the log segments it covers')
    .action(async () => {
      const r = await client().json<{ lastCompaction: Record<string, unknown> }>('POST', '/v1/admin/compact');
      process.stdout.write(`Compacted: ${JSON.stringify(r.lastCompaction)}\n`);
    });

  const offline = (cmd: Command): Command => cmd.option('-c, --config <file>', 'config file').option('--data-dir <dir>', 'data directory (default: from config)');
  const dataDirOf = (o: { config?: string; dataDir?: string }): { dir: string; max: number } => {
    const cfg = loadConfig({ file: o.config, args: o.dataDir ? ['--data-dir', o.dataDir] : [] });
    if (!fs.existsSync(cfg.dataDir)) throw new FleetError('NOT_FOUND', `data dir ${cfg.dataDir} does not exist`);
    return { dir: cfg.dataDir, max: maxLogRecordBytes(cfg.limits.maxValueBytes) };
  };
  offline(program.command('verify').description('check every log and snapshot CRC of a stopped node (exit 1 on damage)')).action((o) => {
    const { dir, max } = dataDirOf(o);
    const r = verifyLog(dir, max);
    for (const f of r.files) process.stdout.write(`${f.problem ? 'BAD ' : 'ok  '} ${f.file}: ${f.records} records, ${f.bytes} bytes${f.problem ? ` — ${f.problem} at offset ${f.offset}` : ''}\n`);
    process.exitCode = r.ok ? 0 : 1;
  });
  offline(program.command('repair').description('cut a damaged log back to its last good record (stopped node); peers refill the rest')).action((o) => {
    const { dir, max } = dataDirOf(o);
    const r = repairLog(dir, max);
    if (r.actions.length === 0) {
      process.stdout.write('nothing to repair\n');
      return;
    }
    // What was cut may hold this node's own writes that peers already have: never reuse their seqs.
    // The one incarnation rule (docs/adr/0002), as after any unclean stop.
    const meta = readMeta(dir);
    const incarnation = meta ? newIncarnation(meta.incarnation) : undefined;
    if (meta && incarnation !== undefined) writeMeta(dir, { ...meta, incarnation, cleanShutdown: true });
    for (const a of r.actions) process.stdout.write(`${a}\n`);
    process.stdout.write(`repaired; the node starts a new incarnation${incarnation !== undefined ? ` (${incarnation})` : ''}\n`);
  });
  registerOps(program, client);
  registerRobots(program, client);
  return program;
}

/** Every command but the fast path of `start` (src/cli/start.ts): parse and run. */
export function runProgram(argv: string[]): void {
  buildProgram().parseAsync(argv).catch(fail);
}
