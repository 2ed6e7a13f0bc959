import { redialDelay } from './backoff.js';
import type { PeerSession } from './session.js';

export interface DialerHost {
  readonly redialMinMs: number;
  readonly redialMaxMs: number;
  /** Open an outgoing session to `address`. */
  connect(address: string, dialer: Dialer): PeerSession;
  /** Whether a session to this node is up (then a duplicate dial waits). */
  hasPeer(nodeId: string): boolean;
  countReconnect(): void;
}

/**
 * Keeps one static or discovered peer address dialled: redials with capped
 * exponential backoff and jitter, and stands by while the peer is reached
 * through another connection (it dialled us: one connection per pair).
 */
export class Dialer {
  session: PeerSession | undefined;
  nodeId: string | undefined;
  standby = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private wasConnected = false;

  constructor(
    readonly address: string,
    private readonly host: DialerHost,
  ) {}

  start(): void {
    this.dial();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  authenticated(s: PeerSession): void {
    this.nodeId = s.peerId;
    this.wasConnected = true;
  }

  sessionClosed(s: PeerSession): void {
    if (this.session !== s) return;
    this.session = undefined;
    if (this.stopped) return;
    if (s.duplicate && this.nodeId !== undefined && this.host.hasPeer(this.nodeId)) {
      this.standby = true;
      return;
    }
    if (this.wasConnected) this.host.countReconnect();
    // A session the peer (or we) closed with an ERROR keeps backing off (a twin
    // refused as newcomer redialled ~25 times a second); one that ended otherwise starts over.
    if (this.wasConnected && !s.refused) this.attempt = 0;
    this.wasConnected = false;
    this.schedule();
  }

  /** The other connection to our peer went away: dial again. */
  wake(): void {
    if (!this.standby || this.stopped) return;
    this.standby = false;
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.dial(), redialDelay(this.attempt++, this.host.redialMinMs, this.host.redialMaxMs));
    this.timer.unref();
  }

  private dial(): void {
    if (this.stopped || this.session) return;
    this.session = this.host.connect(this.address, this);
  }
}
