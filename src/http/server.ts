import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { listenHint } from '../config/describe.js';
import { RecentConflicts } from '../conflicts.js';
import { FleetError } from '../errors.js';
import type { NodeHost, NodeService } from '../node-host.js';
import type { HttpStatus } from '../node-status.js';
import { adminRoutes, type Route } from './admin.js';
import { HttpAuth, type HttpAccess } from './auth.js';
import { allowMethods, allowParams } from './checks.js';
import { handleHistory } from './history.js';
import { Counter } from 'prom-client';
import { handleKv } from './kv.js';
import { handleList } from './list.js';
import { eventData, handleWatch } from './watch.js';
import { WatchJournal } from './watch-journal.js';
import { handleFleet, handleNodes, handleRobots } from './robots.js';
import { handleUi } from './ui.js';
import { sendError, sendJson } from './respond.js';

const KV_PREFIX = '/v1/kv/';
/**
 * A /v1/kv/ path the URL parser would leave as it is: no query or fragment, no
 * dot segment (`/.`, `%2e`), no backslash, nothing it percent-encodes. Any
 * other path takes the URL parser, so both give the same key.
 */
export const PLAIN_KV_PATH = /^\/v1\/kv(?!.*(?:\/\.|%2e))\/[A-Za-z0-9\-_.~!$&'()*+,;=:@%/]+$/i;

/** Query parameters (and, for read-only routes, methods) of the built-in routes; anything else is refused. */
const READ = ['GET', 'HEAD'] as const;
const BUILTIN: Record<string, { params: readonly string[]; methods?: readonly string[] }> = {
  '/v1/kv/<key>': { params: ['history', 'ttl'] },
  '/v1/kv': { params: ['prefix', 'limit', 'after'], methods: READ },
  '/v1/watch': { params: ['prefix', 'initial'], methods: READ },
  '/v1/status': { params: [], methods: READ },
  '/v1/nodes': { params: [], methods: READ },
  '/healthz': { params: [], methods: READ },
  '/readyz': { params: [], methods: READ },
  '/metrics': { params: [], methods: READ },
};

/**
 * The HTTP API (docs/http-api.md): /v1/kv, /v1/watch, /v1/status, /healthz,
 * /readyz, /metrics; the robot model (/v1/robots, /v1/fleet), the fleet
 * page (/ui/, docs/robots.md) and the admin routes (http/admin.ts). Errors
 * are JSON `{ error: { code, message } }`. A service like the others
 * (src/services.ts): it listens on http.host:http.port when the node starts
 * it, and stops taking requests when the node stops it.
 */
export class HttpApi implements NodeService {
  readonly name = 'http';
  private server: http.Server | undefined;
  private port: number | undefined;
  /** The admin routes (/v1/admin/…), by exact path; they need an admin token when tokens are on. */
  readonly routes: Map<string, Route>;
  /** Bearer tokens; undefined = open (only allowed on loopback unless http.allowUnauthenticated). */
  private readonly auth: HttpAuth | undefined;

  /** Conflicts this node detected lately, for the fleet page. */
  private readonly conflicts: RecentConflicts;
  private readonly watchersDropped: Counter<'reason'>;
  /** Every change a watcher can see, numbered, for resuming watches (Last-Event-ID). */
  private readonly journal: WatchJournal;
  private readonly unjournal: () => void;

  constructor(private readonly node: NodeHost) {
    this.auth = HttpAuth.fromConfig(node.config.http);
    this.conflicts = new RecentConflicts(node);
    this.journal = new WatchJournal({ maxEvents: node.config.limits.watchJournalEvents, maxBytes: node.config.limits.watchJournalBytes }, eventData);
    this.unjournal = node.watch('', this.journal.record);
    this.watchersDropped = new Counter({ name: 'fleetkv_http_watchers_dropped_total', help: 'SSE watchers dropped for falling behind (limits.watchBufferBytes)', labelNames: ['reason'], registers: [node.metrics.registry] });
    this.routes = adminRoutes(node);
  }

  async start(): Promise<void> {
    this.port = await this.listen(this.node.config.http.host, this.node.config.http.port);
  }

  stop(): Promise<void> {
    return this.close();
  }

  ports(): Record<string, number> {
    return this.port === undefined ? {} : { http: this.port };
  }

  status(): { http: HttpStatus } {
    return { http: { port: this.port, watchers: this.journal.watchers } };
  }

  async listen(host: string, port: number): Promise<number> {
    // Bounded inputs (limits.http*): idle keep-alive connections close, slow requests time out
    // (checked every second, not Node's default 30 s), and the number of connections is capped.
    const lim = this.node.config.limits;
    const server = http.createServer(
      {
        keepAliveTimeout: lim.httpKeepAliveTimeout,
        headersTimeout: Math.min(lim.httpHeadersTimeout, lim.httpRequestTimeout),
        requestTimeout: lim.httpRequestTimeout,
        connectionsCheckingInterval: 1000,
      },
      (req, res) => {
        this.route(req, res).catch((err: unknown) => sendError(res, err));
      },
    );
    server.maxConnections = lim.httpMaxConnections;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new FleetError('UNAVAILABLE', `http listener on ${host}:${port}: ${err.message}${listenHint(err, 'http.port')}`, err));
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.conflicts.close();
    this.unjournal();
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Throws UNAUTHORIZED/FORBIDDEN unless tokens are off or the request's token allows `access`. */
  private allow(req: http.IncomingMessage, access: HttpAccess): void {
    this.auth?.check(req, access);
  }

  /** /v1/kv/<key>: `encoded` is the key as it stands in the path (percent-encoded). */
  private async kv(req: http.IncomingMessage, res: http.ServerResponse, encoded: string, params: URLSearchParams | null): Promise<void> {
    let key: string;
    try {
      key = decodeURIComponent(encoded);
    } catch {
      throw new FleetError('KEY_INVALID', 'key is not valid percent-encoded UTF-8');
    }
    this.allow(req, { kind: req.method === 'GET' || req.method === 'HEAD' ? 'read' : 'write', prefix: key });
    const history = params?.get('history') ?? null;
    if (history !== null) return handleHistory(this.node, req, res, key, history);
    return handleKv(this.node, req, res, key, params?.get('ttl') ?? null);
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // The hot path (a key read or write without a query) skips the URL parser: it is one of the larger costs of a put.
    const raw = req.url ?? '/';
    if (PLAIN_KV_PATH.test(raw)) return this.kv(req, res, raw.slice(KV_PREFIX.length), null);
    const url = new URL(raw, 'http://fleetkv');
    const path = url.pathname;
    const builtin = path.startsWith('/v1/kv/') ? BUILTIN['/v1/kv/<key>'] : this.routes.has(path) ? undefined : BUILTIN[path];
    if (builtin) {
      if (builtin.methods) allowMethods(req, res, builtin.methods);
      allowParams(url, builtin.params);
    }
    if (path.startsWith(KV_PREFIX)) return this.kv(req, res, path.slice(KV_PREFIX.length), url.searchParams);
    if (path === '/v1/robots' || path.startsWith('/v1/robots/')) {
      this.allow(req, { kind: 'read', prefix: 'robots/' });
      return handleRobots(this.node, req, res, path);
    }
    // The page's static files hold no data; what it shows comes from the routes above and below.
    if (path === '/' || path === '/ui' || path.startsWith('/ui/')) return handleUi(req, res, path);
    const extra = this.routes.get(path);
    if (extra) {
      this.allow(req, { kind: 'admin' });
      return extra(req, res, url);
    }
    switch (path) {
      case '/v1/kv':
        this.allow(req, { kind: 'read', prefix: url.searchParams.get('prefix') ?? '' });
        return handleList(this.node, url, res);
      case '/v1/watch':
        this.allow(req, { kind: 'read', prefix: url.searchParams.get('prefix') ?? '' });
        return handleWatch(this.node, this.journal, url, req, res, this.watchersDropped);
      case '/v1/nodes':
        this.allow(req, { kind: 'any' });
        return handleNodes(this.node, req, res);
      case '/v1/fleet':
        this.allow(req, { kind: 'read', prefix: 'robots/' });
        return handleFleet(this.node, this.conflicts, req, res);
      case '/v1/status':
        this.allow(req, { kind: 'any' });
        return sendJson(res, 200, this.node.status());
      case '/healthz':
        return sendJson(res, this.node.state === 'stopped' ? 503 : 200, { ok: this.node.state !== 'stopped', state: this.node.state });
      case '/readyz': {
        // Running and taking writes (not while a kept incarnation waits for a peer, nor after a node id clash).
        const ready = this.node.writable;
        const reason = this.node.unwritableReason;
        return sendJson(res, ready ? 200 : 503, { ready, state: this.node.state, ...(reason !== undefined ? { reason } : {}) });
      }
      case '/metrics': {
        this.allow(req, { kind: 'any' });
        this.node.refreshGauges();
        const body = await this.node.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': this.node.metrics.registry.contentType });
        res.end(body);
        return;
      }
      default:
        this.allow(req, { kind: 'any' }); // no route map for strangers
        throw new FleetError('NOT_FOUND', `no route ${req.method} ${path}`);
    }
  }
}
