import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { runDaemon } from '../daemon.js';
import { configFlags, EXIT, fail } from './exit.js';

/** Load the config (file < env < flags) and run the node until a signal stops it. */
export async function startNode(file: string | undefined, args: string[]): Promise<void> {
  try {
    await runDaemon(loadConfig({ file, args }));
  } catch (err) {
    fail(err);
  }
}

/**
 * `fleetkv start [flags]` without commander: the daemon is the one command
 * that stays resident, so it parses its flags with `util.parseArgs` and loads
 * none of the client commands' modules (commander and the CLI cost ~3.4 MiB of
 * RSS for the node's whole life; docs/benchmarks.md, F1). `start --help` goes
 * through commander (src/cli/program.ts), which prints the flags and defaults.
 * Usage errors are worded and exit like commander's (64).
 */
export async function runStart(argv: string[]): Promise<void> {
  const flags = configFlags();
  const options: Record<string, { type: 'string'; short?: string }> = { config: { type: 'string', short: 'c' } };
  for (const f of flags) options[f.flag] = { type: 'string' };
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true }));
  } catch (err) {
    usage((err as Error).message);
  }
  if (positionals.length > 0) usage(`too many arguments for 'start'. Expected 0 arguments but got ${positionals.length}.`);
  const args: string[] = [];
  for (const f of flags) {
    const v = values[f.flag];
    if (typeof v === 'string') args.push(`--${f.flag}`, v);
  }
  await startNode(typeof values.config === 'string' ? values.config : undefined, args);
}

function usage(message: string): never {
  // parseArgs words it "Unknown option '--x'. To specify a positional argument …": keep commander's short form.
  const short = message.split('. To specify')[0]!;
  process.stderr.write(`error: ${short.charAt(0).toLowerCase()}${short.slice(1)}\n(run with --help for usage)\n`);
  process.exit(EXIT.USAGE);
}
