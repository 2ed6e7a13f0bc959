import fs from 'node:fs';
import type { FleetConfig, MqttUserConfig } from '../config/schema.js';
import { FleetError } from '../errors.js';
import { parseHash, verifyPassword } from './password.js';
import { filterWithin, topicLevel, topicMatches } from './topics.js';

/**
 * A user after validation; ACL filters may hold %u (user name) and %c (client
 * id). `%c` is allowed only for a user with `clientIds`: a client chooses its
 * id, so `%c` must range over ids the operator gave that user, not over any.
 */
export interface MqttUser {
  name: string;
  password: string;
  read: string[];
  write: string[];
  /** The client ids this user may connect with; undefined: any id no other user holds. */
  clientIds: RegExp | undefined;
}

// Checked for unknown users too, so a wrong name costs as long as a wrong password.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

/**
 * MQTT access control (off unless mqtt.auth.enabled): users with scrypt
 * hashes and per-user topic filters for reading (subscribe) and writing
 * (publish). A user without a `read` or `write` list may read or write any
 * topic; the bridge's derived topics stay read-only for everyone.
 */
export class MqttAuth {
  private constructor(private readonly users: Map<string, MqttUser>) {}

  /** Users from mqtt.auth.users and mqtt.auth.usersFile (the file wins on a clash). Throws CONFIG_INVALID. */
  static fromConfig(cfg: FleetConfig['mqtt']['auth']): MqttAuth {
    const all: Record<string, unknown> = { ...cfg.users };
    if (cfg.usersFile !== '') Object.assign(all, readUsersFile(cfg.usersFile));
    const users = new Map<string, MqttUser>();
    const problems: string[] = [];
    for (const [name, raw] of Object.entries(all)) {
      const u = raw as Partial<MqttUserConfig> | null;
      if (!u || typeof u.password !== 'string' || !parseHash(u.password)) {
        problems.push(`user "${name}": password must be a hash made by \`fleetkv passwd\``);
        continue;
      }
      const lists = { read: u.read ?? ['#'], write: u.write ?? ['#'] };
      for (const [what, list] of Object.entries(lists)) {
        if (!Array.isArray(list) || !list.every(validFilter)) problems.push(`user "${name}": ${what} must be a list of MQTT topic filters`);
      }
      const ids = u.clientIds;
      if (ids !== undefined && (!Array.isArray(ids) || ids.length === 0 || !ids.every((p) => typeof p === 'string' && p !== ''))) {
        problems.push(`user "${name}": clientIds must be a non-empty list of client id patterns ('*' matches any characters, %u is the user name)`);
        continue;
      }
      if (ids === undefined && [...lists.read, ...lists.write].some((f) => typeof f === 'string' && f.includes('%c'))) {
        problems.push(`user "${name}": %c in an ACL needs clientIds (a client chooses its own id: without clientIds, %c would give it the rights of any id it names)`);
      }
      users.set(name, { name, password: u.password, ...lists, clientIds: ids === undefined ? undefined : clientIdPattern(ids, name) });
    }
    if (problems.length > 0) throw new FleetError('CONFIG_INVALID', `invalid configuration: mqtt.auth: ${problems.join('; ')}`);
    if (users.size === 0) throw new FleetError('CONFIG_INVALID', 'invalid configuration: mqtt.auth.enabled but no users (mqtt.auth.users or mqtt.auth.usersFile)');
    return new MqttAuth(users);
  }

  get userCount(): number {
    return this.users.size;
  }

  /** The user, or undefined for an unknown name or a wrong password. */
  async authenticate(name: string | undefined, password: Buffer | undefined): Promise<MqttUser | undefined> {
    const u = name === undefined ? undefined : this.users.get(name);
    const ok = await verifyPassword(password ?? '', u?.password ?? DUMMY_HASH);
    return ok && u ? u : undefined;
  }

  /** May `user` connect with this client id (its `clientIds` patterns; any id without them)? */
  mayUseClientId(user: MqttUser, clientId: string): boolean {
    return user.clientIds === undefined || user.clientIds.test(clientId);
  }

  /** May `user` subscribe to `filter`? Every topic the filter matches must be within one read rule. */
  canRead(user: MqttUser, clientId: string, filter: string): boolean {
    return user.read.some((r) => filterWithin(filter, expand(r, user.name, clientId)));
  }

  canWrite(user: MqttUser, clientId: string, topic: string): boolean {
    return user.write.some((r) => topicMatches(expand(r, user.name, clientId), topic));
  }
}

export function readUsersFile(file: string): Record<string, MqttUserConfig> {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new FleetError('CONFIG_INVALID', `invalid configuration: mqtt.auth.usersFile ${file}: ${(err as Error).message}`);
  }
  const users = (doc as { users?: unknown } | null)?.users;
  if (!users || typeof users !== 'object' || Array.isArray(users)) {
    throw new FleetError('CONFIG_INVALID', `invalid configuration: mqtt.auth.usersFile ${file}: expected {"users": {...}}`);
  }
  return users as Record<string, MqttUserConfig>;
}

function validFilter(f: unknown): boolean {
  if (typeof f !== 'string' || f === '') return false;
  const levels = f.split('/');
  return levels.every((l, i) => (l === '#' ? i === levels.length - 1 : l === '+' || !/[+#]/.test(l)));
}

/** One anchored regular expression for a user's client id patterns: `*` any characters, `%u` the user name. */
function clientIdPattern(patterns: string[], user: string): RegExp {
  const escapeRegex = (t: string): string => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const one = (p: string): string =>
    p
      .split('*')
      .map((part) => escapeRegex(part.replaceAll('%u', user)))
      .join('.*');
  return new RegExp(`^(?:${patterns.map(one).join('|')})$`, 's');
}

function expand(rule: string, user: string, clientId: string): string {
  return rule.includes('%') ? rule.replaceAll('%u', topicLevel(user)).replaceAll('%c', topicLevel(clientId)) : rule;
}
