import net from 'node:net';

/** What a proxy does with one direction of traffic. */
export type FlowMode = 'pass' | 'pause' | 'blackhole';

interface Link {
  client: net.Socket;
  server: net.Socket;
}

/**
 * A TCP fault proxy on loopback between two peers (FACTS: "Faults you can
 * inject"). Each direction can pass, pause (stop reading: the sender's kernel
 * buffers fill and it sees backpressure) or blackhole (read and discard);
 * `drop()` resets every connection and refuses new ones until `pass()`;
 * `delayMs` delays each chunk. `up` is client → target, `down` target → client.
 */
export class FaultProxy {
  port = 0;
  up: FlowMode = 'pass';
  down: FlowMode = 'pass';
  delayMs = 0;
  /** Bytes still allowed target → client before that direction pauses by itself (Infinity: no limit). */
  downBudget = Infinity;
  refusing = false;
  connections = 0;
  private readonly links = new Set<Link>();
  private readonly server: net.Server;

  constructor(public targetPort: number) {
    this.server = net.createServer((client) => this.onClient(client));
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  /** Set both directions (or one) and apply to open connections. */
  set(mode: FlowMode, dir: 'both' | 'up' | 'down' = 'both'): void {
    if (dir !== 'down') this.up = mode;
    if (dir !== 'up') this.down = mode;
    this.refusing = false;
    for (const l of this.links) this.apply(l);
  }

  pass(): void {
    this.set('pass');
  }

  /** Reset every connection and refuse new ones (a hard partition). */
  drop(): void {
    this.refusing = true;
    for (const l of this.links) {
      l.client.resetAndDestroy();
      l.server.resetAndDestroy();
    }
    this.links.clear();
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private onClient(client: net.Socket): void {
    if (this.refusing) {
      client.resetAndDestroy();
      return;
    }
    this.connections++;
    const server = net.connect(this.targetPort, '127.0.0.1');
    const link = { client, server };
    this.links.add(link);
    const forget = (): void => {
      this.links.delete(link);
      client.destroy();
      server.destroy();
    };
    client.on('error', forget).on('close', forget);
    server.on('error', forget).on('close', forget);
    this.pipe(client, server, () => this.up);
    this.pipe(
      server,
      client,
      () => this.down,
      (n) => {
        this.downBudget -= n;
        if (this.downBudget <= 0) this.set('pause', 'down');
      },
    );
    this.apply(link);
  }

  private pipe(from: net.Socket, to: net.Socket, mode: () => FlowMode, count?: (bytes: number) => void): void {
    from.on('data', (chunk: Buffer) => {
      if (mode() === 'blackhole') return;
      count?.(chunk.length);
      if (this.delayMs > 0) setTimeout(() => to.write(chunk), this.delayMs);
      else to.write(chunk);
    });
  }

  private apply(l: Link): void {
    if (this.up === 'pause') l.client.pause();
    else l.client.resume();
    if (this.down === 'pause') l.server.pause();
    else l.server.resume();
  }
}
