import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { Aedes, Client } from 'aedes';
import type { FleetConfig } from '../config/schema.js';
import { listenHint } from '../config/describe.js';
import { FleetError } from '../errors.js';
import type { ClientLimits } from './client-limits.js';
import { refuseIllFormedUtf8 } from './utf8-guard.js';

/** One open listener of the broker: its port, and how to close it with every connection it accepted. */
export interface Listener {
  name: 'mqtt' | 'mqttTls' | 'mqttWs';
  port: number;
  close(): Promise<void>;
}

/**
 * Open the broker's listeners: plain TCP always, TLS and WebSocket when
 * enabled. Nagle is off on every socket (FACTS: it cuts QoS 0 throughput by
 * 3x when few messages are in flight).
 */
export async function openListeners(broker: Aedes, cfg: FleetConfig['mqtt'], guard: PacketGuard): Promise<Listener[]> {
  const out: Listener[] = [];
  try {
    const handle = (socket: net.Socket): void => {
      socket.setNoDelay(true);
      batchWrites(socket);
      const client = broker.handle(socket);
      guard.limits?.watch(client, socket);
      limitPacketSize(client, socket, guard);
      refuseIllFormedUtf8(client, guard.onIllFormedUtf8);
    };
    out.push(await listen('mqtt', net.createServer(handle), cfg.host, cfg.port));
    if (cfg.tls.enabled) out.push(await listen('mqttTls', tls.createServer(tlsOptions(cfg.tls), handle), cfg.host, cfg.tls.port));
    if (cfg.ws.enabled) {
      const { WebSocketServer, createWebSocketStream } = await import('ws'); // only when configured
      const server = http.createServer((_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n'));
      const wss = new WebSocketServer({ server });
      wss.on('connection', (ws, req) => {
        req.socket.setNoDelay(true);
        const stream = createWebSocketStream(ws);
        const client = broker.handle(stream, req);
        guard.limits?.watch(client, stream);
        limitPacketSize(client, stream, guard);
        refuseIllFormedUtf8(client, guard.onIllFormedUtf8);
      });
      out.push(await listen('mqttWs', server, cfg.host, cfg.ws.port, () => wss.close()));
    }
  } catch (err) {
    await Promise.all(out.map((l) => l.close()));
    throw err;
  }
  return out;
}

/** The largest MQTT packet a client may send, and what to do about a larger one. */
export interface PacketGuard {
  maxPacketBytes: number;
  onOversize(bytes: number, client: Client): void;
  /** A string in a packet is not UTF-8: the connection is closed (MQTT-1.5.3-1). */
  onIllFormedUtf8(client: Client): void;
  /** Per-client bounds: outgoing queue, half-sent packets (ClientLimits). */
  limits?: ClientLimits;
}

/**
 * Refuse a packet as soon as its fixed header announces more than
 * `maxPacketBytes`, before its body is buffered: Aedes would otherwise read up
 * to MQTT's 256 MiB into memory. The connection is closed (nothing else can
 * skip the body). Hooks mqtt-packet's length parser; if Aedes' internals
 * change, there is no guard and values are still refused after parsing.
 */
function limitPacketSize(client: Client, conn: { destroy(): void }, guard: PacketGuard): void {
  const parser = (client as unknown as { _parser?: { _parseLength?: () => boolean; packet: { length: number } } })._parser;
  if (!parser?._parseLength) return;
  const parseLength = parser._parseLength.bind(parser);
  parser._parseLength = () => {
    const ok = parseLength();
    if (ok && parser.packet.length > guard.maxPacketBytes) {
      guard.onOversize(parser.packet.length, client);
      conn.destroy();
      return false;
    }
    return ok;
  };
}

/**
 * Aedes writes each delivered message in its own turn of the event loop, and
 * mqtt-packet uncorks after each: one writev syscall per message (a fifth of
 * the CPU when the bridge is busy). Deferring the uncork to the next check
 * phase sends everything written meanwhile in one syscall; unlike Nagle it
 * waits for no ACK, only for the current loop iteration to end.
 */
function batchWrites(socket: net.Socket): void {
  const uncork = socket.uncork.bind(socket);
  const destroy = socket.destroy.bind(socket);
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (!socket.destroyed) while (socket.writableCorked > 0) uncork();
  };
  socket.uncork = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };
  // Aedes destroys the socket right after writing a refusal (CONNACK 4): send it first.
  socket.destroy = (err?: Error) => {
    flush();
    return destroy(err);
  };
}

function tlsOptions(t: FleetConfig['mqtt']['tls']): tls.TlsOptions {
  if (t.cert === '' || t.key === '') throw new FleetError('CONFIG_INVALID', 'invalid configuration: mqtt.tls.enabled needs mqtt.tls.cert and mqtt.tls.key');
  const read = (file: string, what: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new FleetError('CONFIG_INVALID', `invalid configuration: ${what} ${file}: ${(err as Error).message}`);
    }
  };
  const opts: tls.TlsOptions = { cert: read(t.cert, 'mqtt.tls.cert'), key: read(t.key, 'mqtt.tls.key') };
  if (t.ca !== '') Object.assign(opts, { ca: read(t.ca, 'mqtt.tls.ca'), requestCert: true, rejectUnauthorized: true });
  return opts;
}

/** The config key of each listener's port, for the hint when it is taken. */
const PORT_KEY: Record<Listener['name'], string> = { mqtt: 'mqtt.port', mqttTls: 'mqtt.tls.port', mqttWs: 'mqtt.ws.port' };

function listen(name: Listener['name'], server: net.Server, host: string, port: number, beforeClose?: () => void): Promise<Listener> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new FleetError('UNAVAILABLE', `${name} listener on ${host}:${port}: ${err.message}${listenHint(err, PORT_KEY[name])}`, err)));
    server.listen(port, host, () => {
      resolve({
        name,
        port: (server.address() as net.AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            beforeClose?.();
            server.close(() => done());
            for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}
