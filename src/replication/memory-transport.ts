import { Duplex } from 'node:stream';
import type { Transport } from './transport.js';

/**
 * An in-memory network of nodes (property tests, simulations): node `n`
 * listens at address `n:1`; a link between two nodes can be cut (its
 * connections are destroyed and dials fail) and healed.
 */
export class MemoryNetwork {
  private readonly listeners = new Map<string, (socket: Duplex, remote: string) => void>();
  private readonly cuts = new Set<string>();
  private readonly links = new Set<{ pair: string; ends: [Duplex, Duplex] }>();

  static address(nodeId: string): string {
    return `${nodeId}:1`;
  }

  transportFor(self: string): Transport {
    return {
      listen: async (_host, _port, onSocket) => {
        this.listeners.set(self, onSocket);
        return {
          port: 1,
          close: async () => {
            if (this.listeners.get(self) === onSocket) this.listeners.delete(self);
          },
        };
      },
      dial: (address) => this.dial(self, address.slice(0, address.lastIndexOf(':'))),
    };
  }

  /** Open connections (each counted once). */
  get openLinks(): number {
    return this.links.size;
  }

  cut(a: string, b: string): void {
    const pair = pairKey(a, b);
    this.cuts.add(pair);
    for (const l of this.links) if (l.pair === pair) for (const e of l.ends) e.destroy();
  }

  heal(a: string, b: string): void {
    this.cuts.delete(pairKey(a, b));
  }

  healAll(): void {
    this.cuts.clear();
  }

  isCut(a: string, b: string): boolean {
    return this.cuts.has(pairKey(a, b));
  }

  private dial(from: string, to: string): Duplex {
    const [mine, theirs] = socketPair();
    const listener = this.listeners.get(to);
    if (!listener || this.isCut(from, to)) {
      setImmediate(() => mine.destroy());
      return mine;
    }
    const link = { pair: pairKey(from, to), ends: [mine, theirs] as [Duplex, Duplex] };
    this.links.add(link);
    // Closing either end closes the other, like a TCP connection.
    for (const [x, y] of [
      [mine, theirs],
      [theirs, mine],
    ] as const) {
      x.on('close', () => {
        this.links.delete(link);
        y.destroy();
      });
      x.on('end', () => x.destroy());
      x.on('error', () => {});
    }
    setImmediate(() => listener(theirs, `${from}:0`));
    return mine;
  }
}

/**
 * One end of an in-memory connection. Writes are handed to the other end at
 * once (no backpressure: tests only). Not node's duplexPair: on Node 20 its
 * write callback waits for the reader's next _read, which under some
 * schedules never comes, and a connection stalled for good with bytes unsent.
 */
class MemorySocket extends Duplex {
  other: MemorySocket | undefined;

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.other?.push(chunk);
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.other?.push(null);
    cb();
  }
}

function socketPair(): [MemorySocket, MemorySocket] {
  const a = new MemorySocket();
  const b = new MemorySocket();
  a.other = b;
  b.other = a;
  return [a, b];
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
