/** A raw peer-protocol client for tests that speak to a node's peer port directly. */
import net from 'node:net';
import { FRAME, FrameReader, jsonFrame, parseJsonBody, PROTOCOL_VERSION, type Frame } from '../../src/replication/frames.js';
import { authProof, newNonce, type Hello } from '../../src/replication/hello.js';
import { waitFor } from '../helpers/proc.js';

export class WireClient {
  readonly frames: Frame[] = [];
  closed = false;
  readonly socket: net.Socket;
  readonly nonce = newNonce();
  private readonly reader = new FrameReader(64 * 1024 * 1024);

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => {
      try {
        this.frames.push(...this.reader.push(d));
      } catch {
        /* the test sees what arrived */
      }
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => (this.closed = true));
  }

  send(b: Buffer): void {
    this.socket.write(b);
  }

  hello(over: Partial<Hello> = {}): void {
    const h: Hello = { protocol: PROTOCOL_VERSION, fleetId: 'default', nodeId: 'raw', instance: 'raw-1', vector: {}, nonce: this.nonce, fullResync: false, ...over };
    this.send(jsonFrame(FRAME.HELLO, h));
  }

  async frame(type: number): Promise<Frame> {
    return waitFor(() => this.frames.find((f) => f.type === type), `a frame of type ${type}`, 10_000);
  }

  async peerHello(): Promise<Hello> {
    return parseJsonBody<Hello>(await this.frame(FRAME.HELLO));
  }

  /** Complete the handshake as `nodeId` with `secret` ('' = none). */
  async handshake(secret: string, fleetId = 'default', nodeId = 'raw'): Promise<Hello> {
    this.hello({ fleetId, nodeId });
    const peer = await this.peerHello();
    const proof = secret ? authProof(secret, fleetId, { nodeId, nonce: this.nonce }, peer) : '';
    this.send(jsonFrame(FRAME.AUTH, { proof }));
    return peer;
  }

  async error(): Promise<{ code: string; message: string }> {
    return parseJsonBody<{ code: string; message: string }>(await this.frame(FRAME.ERROR));
  }

  async waitClosed(): Promise<void> {
    await waitFor(() => this.closed, 'the node to close the connection', 10_000);
  }

  end(): void {
    this.socket.destroy();
  }
}
