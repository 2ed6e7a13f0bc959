import type { Logger } from 'pino';
import type { FleetConfig } from './config/schema.js';
import { FleetError } from './errors.js';
import type { HttpApi } from './http/server.js';
import { FleetNode, type FleetNodeOptions } from './node.js';
import { defaultServices } from './services.js';
import { createLogger } from './util/logger.js';
import { SdNotify } from './util/sdnotify.js';
import { VERSION } from './version.js';

export interface Daemon {
  node: FleetNode;
  /** The HTTP API, one of the node's services. */
  http: HttpApi;
  httpPort: number;
  stop(): Promise<void>;
}

/**
 * Run a node as a process: the node with its services (defaultServices, the
 * HTTP API among them), a `ready` log line naming the ports (tests and
 * scripts read it), and SIGTERM/SIGINT handling that flushes and fsyncs the
 * log before exit 0 (docs/operating.md). A caller that passes its own
 * `services` must include an HttpApi.
 */
export async function runDaemon(config: FleetConfig, opts: FleetNodeOptions & { handleSignals?: boolean } = {}): Promise<Daemon> {
  const logger: Logger = opts.logger ?? createLogger(config.log.level, config.nodeId);
  const node = new FleetNode(config, { services: defaultServices, ...opts, logger });
  await node.start();
  const http = node.services.find((s): s is HttpApi => s.name === 'http');
  const httpPort = http?.ports?.().http;
  if (http === undefined || httpPort === undefined) {
    await node.stop();
    throw new FleetError('CONFIG_INVALID', 'a daemon needs the HTTP API among its services (http/server.ts HttpApi)');
  }
  let stopping: Promise<void> | undefined;
  const sd = new SdNotify({ logger });
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      void sd.stopping();
      logger.info('stopping: flushing the log');
      await node.stop(); // HTTP stops first (services stop in reverse order), the log closes last
      logger.info('stopped cleanly');
    })();
    return stopping;
  };
  if (opts.handleSignals !== false) {
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn('%s again: exiting now', sig);
        process.exit(1);
      }
      logger.info('%s received', sig);
      stop().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'unclean stop');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  // The HTTP API first (it starts last): operators and the ready line read it first.
  const ports: Record<string, unknown> = httpPort === undefined ? {} : { http: httpPort };
  for (const svc of node.services) Object.assign(ports, svc.ports?.() ?? {});
  logger.info({ event: 'ready', version: VERSION, nodeId: config.nodeId, dataDir: config.dataDir, fsync: config.log.fsync, ports }, 'fleetkv %s ready: http://%s:%d', VERSION, config.http.host, httpPort);
  // systemd (Type=notify): ready now; watchdog pings while the node runs.
  void sd.ready(
    `fleetkv ${VERSION} serving ${Object.entries(ports)
      .map(([k, v]) => `${k} :${String(v)}`)
      .join(', ')}`,
  );
  sd.startWatchdog(() => node.state === 'running');
  return { node, http, httpPort, stop };
}
