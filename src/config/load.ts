import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import convict from 'convict';
import { MAX_KEY_LEVELS, nodeIdFromHostname, validateNodeId } from '../entry/key.js';
import { FleetError } from '../errors.js';
import { isLoopback } from '../util/address.js';
import { registerFormats } from './formats.js';
import { schema, type FleetConfig } from './schema.js';

export const SYSTEM_CONFIG = '/etc/fleetkv/fleetkv.json';

export interface LoadOptions {
  /** Explicit config file (--config); otherwise /etc/fleetkv/fleetkv.json if it exists. */
  file?: string | undefined;
  /** Command-line flags, e.g. ['--node-id', 'r1'] (highest precedence). */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Values set by a library caller (above flags). */
  overrides?: DeepPartial<FleetConfig>;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };

/**
 * Load config: defaults < config file < FLEETKV_* env < flags < overrides.
 * Any problem becomes one CONFIG_INVALID error listing every bad key
 * (the CLI prints it and exits 78, EX_CONFIG).
 */
export function loadConfig(opts: LoadOptions = {}): FleetConfig {
  registerFormats();
  const env = opts.env ?? process.env;
  // biome-ignore lint/suspicious/noImplicitAnyLet: convict's own inferred type (naming it is 'excessively deep' for tsc)
  let conf;
  try {
    conf = convict(schema, { env, args: opts.args ?? [] });
    const file = opts.file ?? env.FLEETKV_CONFIG ?? (fs.existsSync(SYSTEM_CONFIG) ? SYSTEM_CONFIG : undefined);
    if (file !== undefined) {
      conf.load(readConfigFile(file));
    }
    if (opts.overrides) conf.load(opts.overrides);
    conf.validate({ allowed: 'strict' });
  } catch (err) {
    throw new FleetError('CONFIG_INVALID', `invalid configuration: ${(err as Error).message}`, err);
  }
  const cfg = conf.getProperties() as unknown as FleetConfig;
  return finishConfig(cfg);
}

/** A config file's JSON, or an error naming the file, line and column. */
function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `config file ${file} does not exist` : `config file ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const msg = (err as Error).message;
    const at = /at position (\d+)/.exec(msg);
    let where = '';
    if (at) {
      const before = text.slice(0, Number(at[1]));
      const line = before.split('\n').length;
      where = `:${line}:${Number(at[1]) - before.lastIndexOf('\n')}`;
    }
    throw new Error(`config file ${file}${where} is not valid JSON: ${msg}`);
  }
}

/** Derived defaults and cross-field checks that convict cannot express. */
/** `<prefix>/state/<key>` must fit MQTT's 100 topic levels for the deepest key (MAX_KEY_LEVELS). */
const MAX_PREFIX_LEVELS = 100 - 1 - MAX_KEY_LEVELS;

function validTopicPrefix(prefix: string): boolean {
  return prefix !== '' && !/[+#]/.test(prefix) && prefix.split('/').length <= MAX_PREFIX_LEVELS;
}

/** Why a `mqtt.mirror` filter cannot be used, or undefined. */
function mirrorFilterProblem(filter: string, prefix: string): string | undefined {
  if (filter.startsWith('$')) return `"${filter}": topics starting with $ are the broker's`;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!;
    if (l === '#' && i !== levels.length - 1) return `"${filter}": # must be the last level`;
    if (l !== '#' && l !== '+' && /[+#]/.test(l)) return `"${filter}": a wildcard must be a whole level`;
  }
  // Could it match a topic under <prefix>/ (fleetkv's own topics)?
  const p = prefix.split('/');
  for (let i = 0; i <= p.length; i++) {
    const l = levels[i];
    if (l === undefined) return undefined;
    if (l === '#') return `"${filter}": overlaps fleetkv's own ${prefix}/ topics`;
    if (i === p.length) return `"${filter}": overlaps fleetkv's own ${prefix}/ topics`;
    if (l !== '+' && l !== p[i]) return undefined;
  }
  return undefined;
}

export function finishConfig(cfg: FleetConfig): FleetConfig {
  if (cfg.nodeId === '') cfg.nodeId = nodeIdFromHostname(os.hostname());
  validateNodeId(cfg.nodeId);
  if (cfg.dataDir === '') cfg.dataDir = path.join('data', cfg.nodeId);
  cfg.dataDir = path.resolve(cfg.dataDir);
  const problems: string[] = [];
  if (cfg.limits.maxValueBytes < 1 || cfg.limits.maxValueBytes > 64 * 1024 * 1024) problems.push('limits.maxValueBytes: must be 1 byte to 64 MiB');
  if (cfg.log.segmentBytes < 4096) problems.push('log.segmentBytes: must be at least 4 KiB');
  if (cfg.log.compactRatio < 1.5) problems.push('log.compactRatio: must be at least 1.5');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(cfg.fleetId)) problems.push('fleetId: must be 1–64 of [A-Za-z0-9_.-]');
  if (!validTopicPrefix(cfg.mqtt.prefix)) problems.push(`mqtt.prefix: must be non-empty without + or #, at most ${MAX_PREFIX_LEVELS} levels`);
  if (cfg.uplink.enabled && cfg.uplink.url === '') problems.push('uplink.url: required when uplink.enabled');
  if (!validTopicPrefix(cfg.uplink.prefix)) problems.push(`uplink.prefix: must be non-empty without + or #, at most ${MAX_PREFIX_LEVELS} levels`);
  for (const f of cfg.mqtt.mirror) {
    const problem = mirrorFilterProblem(f, cfg.mqtt.prefix);
    if (problem) problems.push(`mqtt.mirror: ${problem}`);
  }
  const httpTokens = cfg.http.token !== '' || Object.keys(cfg.http.tokens).length > 0;
  if (!isLoopback(cfg.http.host) && !httpTokens && !cfg.http.allowUnauthenticated) {
    problems.push(
      `http.host: ${cfg.http.host} lets other machines reach the HTTP API, and no token is set: set FLEETKV_HTTP_TOKEN (or http.tokens), ` +
        'bind http.host to 127.0.0.1, or set http.allowUnauthenticated=true to let anyone on the network read and write',
    );
  }
  if (problems.length > 0) throw new FleetError('CONFIG_INVALID', `invalid configuration: ${problems.join('; ')}`);
  return cfg;
}
