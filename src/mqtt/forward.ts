import type { NodeHost, ForwardedMessage } from '../node-host.js';
import type { MqttMetrics } from './metrics.js';
import type { MirrorTopics } from './mirror.js';

/**
 * Live (non-retained) publishes on mirrored topics (docs/mqtt.md, "Mirrored
 * topics"): out, a client's publish goes to the peers through replication,
 * at most `limits.forwardRate` a second (a token bucket; more are dropped and
 * counted); in, a peer's is published on this broker with `broker.publish`,
 * which no client hook sees, so it is never forwarded again (no loops).
 * A topic this node does not mirror is not delivered (a peer configured
 * otherwise cannot publish on, say, `fleet/state/…` here).
 */
export class MirrorForwarder {
  private tokens: number;
  private last = performance.now();

  constructor(
    private readonly node: NodeHost,
    private readonly mirror: MirrorTopics,
    private readonly metrics: MqttMetrics,
    private readonly ratePerSecond: number,
  ) {
    this.tokens = ratePerSecond;
  }

  /** A client's live publish: forward it to every peer, unless over the rate. */
  forward(topic: string, payload: Buffer, qos: number): void {
    if (!this.take()) {
      this.metrics.forwardDropped.inc({ reason: 'rate' });
      return;
    }
    this.metrics.mirrored.inc({ kind: 'forwarded' });
    this.node.forward({ topic, payload, qos: qos >= 1 ? 1 : 0, origin: this.node.nodeId });
  }

  /** Start delivering what peers forward, with `publish`; returns a stop function. */
  deliverWith(publish: (m: ForwardedMessage) => void): () => void {
    return this.node.onForwarded((m) => {
      if (!this.mirror.matches(m.topic)) {
        this.metrics.forwardDropped.inc({ reason: 'not_mirrored' });
        return;
      }
      this.metrics.mirrored.inc({ kind: 'received' });
      publish(m);
    });
  }

  private take(): boolean {
    if (this.ratePerSecond === 0) return true;
    const now = performance.now();
    this.tokens = Math.min(this.ratePerSecond, this.tokens + ((now - this.last) * this.ratePerSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
