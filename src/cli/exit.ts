import { schema } from '../config/schema.js';
import { isFleetError, type FleetErrorCode } from '../errors.js';

/** Exit codes (sysexits.h where one fits); `fleetkv --help` lists them. */
export const EXIT = { OK: 0, ERROR: 1, USAGE: 64, NOT_FOUND: 3, UNAVAILABLE: 69, CONFIG: 78 } as const;

const EXIT_OF: Partial<Record<FleetErrorCode, number>> = { CONFIG_INVALID: EXIT.CONFIG, NOT_FOUND: EXIT.NOT_FOUND, UNAVAILABLE: EXIT.UNAVAILABLE, USAGE: EXIT.USAGE };

/** Print an error with its stable code (scripts match on it) and exit with its exit code. */
export function fail(err: unknown): never {
  if (isFleetError(err)) {
    process.stderr.write(`fleetkv: ${err.message} [${err.code}]\n`);
    process.exit(EXIT_OF[err.code] ?? EXIT.ERROR);
  }
  process.stderr.write(`fleetkv: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(EXIT.ERROR);
}

export interface ConfigFlag {
  flag: string;
  key: string;
  doc: string;
  default: unknown;
}

/** The `arg` flags of the config schema, for `fleetkv start` (and its --help) and to reject typos. */
export function configFlags(): ConfigFlag[] {
  const out: ConfigFlag[] = [];
  const walk = (obj: Record<string, any>, prefix: string): void => {
    for (const [k, v] of Object.entries(obj)) {
      if (v && typeof v === 'object' && 'doc' in v) {
        if (v.arg) out.push({ flag: v.arg as string, key: prefix + k, doc: v.doc as string, default: v.default });
      } else if (v && typeof v === 'object') walk(v, `${prefix}${k}.`);
    }
  };
  walk(schema, '');
  return out;
}
