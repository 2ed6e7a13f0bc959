import { FleetError } from '../errors.js';
import type { NodeStatus } from '../node-status.js';

export const DEFAULT_URL = 'http://127.0.0.1:7480';

/** A node URL must be http(s)://host:port: "127.0.0.1:7480" would otherwise read as "cannot reach". */
function checkUrl(url: string): string {
  let scheme: string | undefined;
  try {
    scheme = new URL(url).protocol;
  } catch {
    /* no scheme at all, or not a URL */
  }
  if (scheme !== 'http:' && scheme !== 'https:') {
    const guess = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? '' : `; did you mean http://${url}?`;
    throw new FleetError('USAGE', `--url / FLEETKV_URL "${url}" is not an http:// or https:// URL${guess}`);
  }
  return url;
}

/** A small client of a running node's HTTP API, for the CLI commands. */
export class NodeClient {
  readonly base: string;

  constructor(url?: string) {
    this.base = checkUrl(url ?? process.env.FLEETKV_URL ?? DEFAULT_URL).replace(/\/+$/, '');
  }

  /** FLEETKV_HTTP_TOKEN from the environment (never a flag: a command line is visible to every user). */
  private headers(): Record<string, string> {
    const token = process.env.FLEETKV_HTTP_TOKEN;
    return token ? { authorization: `Bearer ${token}` } : {};
  }

  kvPath(key: string): string {
    return `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  async request(method: string, path: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.base + path, { method, headers: { ...this.headers(), ...headers }, ...(body ? { body } : {}) });
    } catch (err) {
      const c = (err as { cause?: { code?: string; errors?: { code?: string }[] } }).cause;
      const cause = c?.code ?? c?.errors?.[0]?.code ?? (err as Error).message;
      throw new FleetError('UNAVAILABLE', `cannot reach fleetkv at ${this.base} (${cause}); is it running? (fleetkv start, or set --url / FLEETKV_URL)`);
    }
    if (res.status >= 400) {
      let code = 'IO_ERROR';
      let message = `${method} ${path}: HTTP ${res.status}`;
      try {
        const j = (await res.json()) as { error?: { code: string; message: string } };
        if (j.error) {
          code = j.error.code;
          message = j.error.message;
        }
      } catch {
        /* not JSON */
      }
      throw new FleetError(code as FleetError['code'], message);
    }
    return res;
  }

  async json<T>(method: string, path: string, body?: Uint8Array): Promise<T> {
    return (await (await this.request(method, path, body)).json()) as T;
  }

  put(key: string, value: Uint8Array, ttl?: string): Promise<{ seq: number; origin: string; hlc: string }> {
    return this.json('PUT', this.kvPath(key) + (ttl === undefined ? '' : `?ttl=${encodeURIComponent(ttl)}`), value);
  }

  async get(key: string): Promise<Buffer> {
    return Buffer.from(await (await this.request('GET', this.kvPath(key))).arrayBuffer());
  }

  del(key: string): Promise<unknown> {
    return this.json('DELETE', this.kvPath(key));
  }

  list(prefix: string): Promise<{ entries: { key: string; value?: string; encoding?: string }[] }> {
    return this.json('GET', `/v1/kv?prefix=${encodeURIComponent(prefix)}`);
  }

  status(): Promise<NodeStatus> {
    return this.json('GET', '/v1/status');
  }
}
