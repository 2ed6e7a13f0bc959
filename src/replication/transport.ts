import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { FleetError } from '../errors.js';

/** A listening peer endpoint. */
export interface Listener {
  port: number;
  close(): Promise<void>;
}

/**
 * How peers reach each other: TCP (optionally mutual TLS) in production, an
 * in-memory network in property tests. A dialled socket may be written to at
 * once; a failed dial ends in 'close'.
 */
export interface Transport {
  listen(host: string, port: number, onSocket: (socket: Duplex, remote: string) => void): Promise<Listener>;
  dial(address: string): Duplex;
}

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(i + 1)) };
}

/**
 * TCP transport. With `tls`, both sides present a certificate signed by the
 * fleet CA and verify the other's (mutual TLS); host names are not checked,
 * since robots move between addresses: fleet membership is the CA.
 */
export function tcpTransport(opts: { logger: Logger; maxConnections: number; tls?: TlsFiles | undefined }): Transport {
  const secure = opts.tls ? loadTls(opts.tls) : undefined;
  return {
    listen(host, port, onSocket) {
      const server = secure
        ? tls.createServer({ ...secure, requestCert: true, rejectUnauthorized: true }, (s) => onSocket(s, `${s.remoteAddress}:${s.remotePort}`))
        : net.createServer((s) => onSocket(s, `${s.remoteAddress}:${s.remotePort}`));
      server.maxConnections = opts.maxConnections;
      server.on('drop', (d?: { remoteAddress?: string; remotePort?: number }) => {
        opts.logger.warn(
          { remote: `${d?.remoteAddress}:${d?.remotePort}`, code: 'UNAVAILABLE' },
          'refused peer connection from %s:%s: already %d connections (replication.maxConnections)',
          d?.remoteAddress,
          d?.remotePort,
          opts.maxConnections,
        );
      });
      server.on('tlsClientError', (err: Error, s: tls.TLSSocket) => {
        opts.logger.warn({ remote: `${s.remoteAddress}:${s.remotePort}`, code: 'AUTH_FAILED' }, 'refused peer connection from %s: TLS handshake failed: %s', s.remoteAddress, err.message);
      });
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          server.on('error', (err) => opts.logger.error({ err }, 'peer listener error'));
          resolve({
            port: (server.address() as net.AddressInfo).port,
            close: () => new Promise<void>((r) => server.close(() => r())),
          });
        });
      });
    },
    dial(address) {
      const { host, port } = splitAddress(address);
      const s = secure ? tls.connect({ host, port, ...secure, rejectUnauthorized: true, checkServerIdentity: () => undefined }) : net.connect({ host, port });
      s.setNoDelay(true);
      return s;
    },
  };
}

function loadTls(f: TlsFiles): { ca: Buffer; cert: Buffer; key: Buffer } {
  try {
    return { ca: fs.readFileSync(f.ca), cert: fs.readFileSync(f.cert), key: fs.readFileSync(f.key) };
  } catch (err) {
    throw new FleetError('CONFIG_INVALID', `peer.tls: cannot read the CA, certificate or key: ${(err as Error).message}`, err);
  }
}
