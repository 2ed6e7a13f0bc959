import net from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { waitFor } from '../helpers/proc.js';

/**
 * An MQTT 3.1.1 client at the packet level (mqtt-packet, the codec Aedes and
 * mqtt.js use): it sends exactly the packets a test writes — a PUBLISH with
 * DUP=1 and a packet id already used, several packets in one TCP write, or raw
 * bytes — and records every packet it receives. No retransmits of its own.
 */
export class RawClient {
  readonly received: Packet[] = [];
  closed = false;

  private constructor(private readonly socket: net.Socket) {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: Packet) => this.received.push(p));
    socket.on('data', (d: Buffer) => parser.parse(d));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  /** Connect and send CONNECT; resolves with the CONNACK's return code (the socket may close after a refusal). */
  static async connect(port: number, opts: { clientId: string; clean?: boolean; username?: string; password?: string }): Promise<{ client: RawClient; returnCode: number }> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.setNoDelay(true);
    const client = new RawClient(socket);
    client.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: opts.clean ?? true,
      clientId: opts.clientId,
      keepalive: 0,
      ...(opts.username !== undefined ? { username: opts.username } : {}),
      ...(opts.password !== undefined ? { password: Buffer.from(opts.password) } : {}),
    });
    const connack = await client.waitPacket((p) => p.cmd === 'connack', 'CONNACK');
    return { client, returnCode: (connack as { returnCode?: number }).returnCode ?? -1 };
  }

  /** Send packets in one TCP write (the broker then parses them in one batch). */
  send(...packets: Packet[]): void {
    this.sendBytes(Buffer.concat(packets.map((p) => mqttPacket.generate(p))));
  }

  sendBytes(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  waitPacket(pred: (p: Packet) => boolean, what: string, timeoutMs = 10_000): Promise<Packet> {
    return waitFor(() => this.received.find(pred), what, timeoutMs);
  }

  /** How many received packets match (e.g. PUBRECs for one packet id). */
  count(pred: (p: Packet) => boolean): number {
    return this.received.filter(pred).length;
  }

  waitClosed(what: string, timeoutMs = 10_000): Promise<boolean> {
    return waitFor(() => this.closed, what, timeoutMs);
  }

  end(): void {
    this.socket.destroy();
  }
}

/** A PUBLISH packet (payload as text). */
export function publish(topic: string, payload: string, qos: 0 | 1 | 2, messageId?: number, dup = false): Packet {
  return { cmd: 'publish', topic, payload: Buffer.from(payload), qos, dup, retain: false, ...(messageId !== undefined ? { messageId } : {}) } as Packet;
}

/** Is `p` the acknowledgement `cmd` of packet id `id`? */
export function ack(cmd: 'puback' | 'pubrec' | 'pubcomp', id: number): (p: Packet) => boolean {
  return (p) => p.cmd === cmd && (p as { messageId?: number }).messageId === id;
}
