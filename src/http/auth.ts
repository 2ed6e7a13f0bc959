import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FleetConfig, HttpTokenConfig } from '../config/schema.js';
import { FleetError } from '../errors.js';

/** What a request wants to do: read or write keys under a prefix, or run an admin action. */
export type HttpAccess = { kind: 'read' | 'write'; prefix: string } | { kind: 'admin' } | { kind: 'any' };

/** A token after validation: its name (for logs), its hash, and the key prefixes it may read and write. */
interface HttpToken {
  name: string;
  hash: Buffer;
  read: string[];
  write: string[];
}

const HASH_RE = /^sha256:([0-9a-f]{64})$/;

/** `sha256:<hex>` of a token: what the config holds, so a config file holds no usable secret. */
export function hashToken(token: string): string {
  return `sha256:${crypto.createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

/** A new random token (256 bits, URL-safe). */
export function newToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/**
 * Bearer tokens of the HTTP API (docs/http-api.md "Authentication"). Off
 * when neither `http.token` (FLEETKV_HTTP_TOKEN) nor `http.tokens` is set.
 * When on, every route but /healthz and /readyz needs a token; key routes
 * check its read/write prefixes, admin routes need a token that may write
 * every key. Tokens are compared by SHA-256 digest in constant time, and
 * never logged: only the token's name is.
 */
export class HttpAuth {
  private constructor(private readonly tokens: HttpToken[]) {}

  /** Undefined when no token is configured. Throws CONFIG_INVALID on a malformed token entry. */
  static fromConfig(cfg: FleetConfig['http']): HttpAuth | undefined {
    const tokens: HttpToken[] = [];
    const problems: string[] = [];
    if (cfg.token !== '') tokens.push({ name: 'token', hash: digest(cfg.token), read: [''], write: [''] });
    for (const [name, raw] of Object.entries(cfg.tokens)) {
      const t = raw as Partial<HttpTokenConfig> | null;
      const m = typeof t?.hash === 'string' ? HASH_RE.exec(t.hash) : null;
      if (!t || !m) {
        problems.push(`http.tokens.${name}: hash must be "sha256:<64 hex digits>" (made by \`fleetkv token\`)`);
        continue;
      }
      const read = t.read ?? [''];
      const write = t.write ?? [];
      if (!isPrefixList(read)) problems.push(`http.tokens.${name}.read: must be a list of key prefixes ("" = every key)`);
      if (!isPrefixList(write)) problems.push(`http.tokens.${name}.write: must be a list of key prefixes ("" = every key)`);
      tokens.push({ name, hash: Buffer.from(m[1]!, 'hex'), read, write });
    }
    if (problems.length > 0) throw new FleetError('CONFIG_INVALID', `invalid configuration: ${problems.join('; ')}`);
    return tokens.length > 0 ? new HttpAuth(tokens) : undefined;
  }

  /**
   * The name of the token that allows `access`. Throws UNAUTHORIZED (401)
   * without a known token, FORBIDDEN (403) when the token may not do this.
   */
  check(req: IncomingMessage, access: HttpAccess): string {
    const presented = bearer(req);
    if (presented === undefined) throw new FleetError('UNAUTHORIZED', 'this node requires a token: send "Authorization: Bearer <token>" (the CLI sends FLEETKV_HTTP_TOKEN)');
    const d = digest(presented);
    // Every token is compared, so the time taken does not tell which one matched.
    let match: HttpToken | undefined;
    for (const t of this.tokens) if (crypto.timingSafeEqual(t.hash, d) && !match) match = t;
    if (!match) throw new FleetError('UNAUTHORIZED', 'unknown token');
    if (!allows(match, access)) {
      const what = access.kind === 'admin' ? 'run admin actions' : access.kind === 'any' ? 'do this' : `${access.kind} keys under "${access.prefix}"`;
      throw new FleetError('FORBIDDEN', `token "${match.name}" may not ${what}`);
    }
    return match.name;
  }
}

function allows(t: HttpToken, access: HttpAccess): boolean {
  switch (access.kind) {
    case 'any':
      return true;
    case 'admin':
      return t.write.includes('');
    case 'read':
      return t.read.some((p) => access.prefix.startsWith(p));
    case 'write':
      return t.write.some((p) => access.prefix.startsWith(p));
  }
}

function digest(token: string): Buffer {
  return crypto.createHash('sha256').update(token, 'utf8').digest();
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (m) return m[1];
  }
  // The fleet page's EventSource cannot send headers: it sends the token as a same-site cookie.
  const cookie = req.headers.cookie;
  if (typeof cookie === 'string') {
    for (const part of cookie.split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === 'fleetkv_token' && v.length > 0) return decodeURIComponent(v.join('='));
    }
  }
  return undefined;
}

function isPrefixList(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((p) => typeof p === 'string');
}
