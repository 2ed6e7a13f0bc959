import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll } from 'vitest';
import { type NodeProc, runProcess, tempDir, waitFor, type ProcessResult } from '../helpers/proc.js';

export interface Received {
  topic: string;
  payload: string;
  raw: Buffer;
  retain: boolean;
}

/** An mqtt.js client (MQTT 3.1.1, no reconnects) that records every message it receives. */
export class TestClient {
  readonly messages: Received[] = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => this.messages.push({ topic, payload: payload.toString('utf8'), raw: payload, retain: packet.retain }));
  }

  static async connect(url: string, opts: IClientOptions = {}): Promise<TestClient> {
    const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    // Settle on CONNACK, on an error, or when the connection closes without one (never hang a test).
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', (err) => reject(err));
      client.once('close', () => reject(new Error(`connection to ${url} closed before CONNACK`)));
    }).catch((err: unknown) => {
      client.end(true);
      throw err;
    });
    return new TestClient(client);
  }

  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  /** Wait for a message matching `pred` (already received or still to come). */
  waitMessage(pred: (m: Received) => boolean, what: string, timeoutMs = 10_000): Promise<Received> {
    return waitFor(() => this.messages.find(pred), what, timeoutMs);
  }

  end(): Promise<void> {
    return this.client.endAsync();
  }
}

/** Run a Mosquitto client tool (mosquitto_pub / mosquitto_sub) to completion. */
export function mosquitto(tool: 'mosquitto_pub' | 'mosquitto_sub', args: string[], timeoutMs = 10_000): Promise<ProcessResult> {
  return runProcess(tool, args, { timeoutMs });
}

/**
 * The setup MQTT test files share: a temp dir, the node processes and MQTT
 * clients a file opens (push them), all ended and stopped after the file.
 */
export function mqttFixture(): { dir: string; nodes: NodeProc[]; clients: TestClient[] } {
  const f = { dir: tempDir(), nodes: [] as NodeProc[], clients: [] as TestClient[] };
  afterAll(async () => {
    await Promise.all(f.clients.map((c) => c.end().catch(() => {})));
    await Promise.all(f.nodes.map((n) => n.stop()));
  });
  return f;
}
