import { randomBytes } from 'node:crypto';
import type { Entry } from '../entry/entry.js';

/** Why a watch cannot resume from the id it gave: it then gets an explicit `reset` and the current state. */
export type ResetReason = 'invalid-id' | 'restarted' | 'too-old' | 'ahead';

export interface JournalLimits {
  /** Changes kept for replay. */
  maxEvents: number;
  /** Bytes of event text kept for replay. */
  maxBytes: number;
}

interface Kept {
  n: number;
  key: string;
  text: string;
}

/**
 * The watch journal (docs/http-api.md, "Resuming a watch"): every change a
 * watcher can see gets an id `<boot>.<n>`, n counting this process's changes
 * and boot naming the process, and its server-sent event text is built once
 * for every watcher. The last changes are kept, bounded in number and bytes,
 * so a watcher that reconnects with `Last-Event-ID` is sent what it missed,
 * in order; an id this journal no longer covers (too old, another process,
 * garbage) is answered with a reason, never with a silent gap.
 */
export class WatchJournal {
  readonly boot = randomBytes(4).toString('hex');
  private kept: Kept[] = [];
  private head = 0;
  private bytes = 0;
  private n = 0;
  private readonly subscribers = new Set<{ prefix: string; cb: (text: string) => void }>();

  constructor(
    private readonly limits: JournalLimits,
    private readonly render: (e: Entry) => string,
  ) {}

  /** The id of the latest change ('' part of the stream: before any change, `<boot>.0`). */
  get lastId(): string {
    return `${this.boot}.${this.n}`;
  }

  /** Watchers subscribed now (open /v1/watch streams). */
  get watchers(): number {
    return this.subscribers.size;
  }

  /** A change that won for its key: numbered, kept, and sent to every subscriber under its prefix. */
  readonly record = (e: Entry): void => {
    const n = ++this.n;
    const text = `id: ${this.boot}.${n}\ndata: ${this.render(e)}\n\n`;
    this.kept.push({ n, key: e.key, text });
    this.bytes += text.length;
    this.evict();
    for (const s of this.subscribers) if (e.key.startsWith(s.prefix)) s.cb(text);
  };

  subscribe(prefix: string, cb: (text: string) => void): () => void {
    const s = { prefix, cb };
    this.subscribers.add(s);
    return () => this.subscribers.delete(s);
  }

  /**
   * The events after `lastEventId` under `prefix`, oldest first, or why they
   * cannot be given. Call it and subscribe in the same turn, so nothing falls
   * between the replay and the live events.
   */
  since(lastEventId: string, prefix: string): { events: string[] } | { reset: ResetReason } {
    const m = /^([0-9a-f]{8})\.(\d{1,15})$/.exec(lastEventId.trim());
    if (!m) return { reset: 'invalid-id' };
    if (m[1] !== this.boot) return { reset: 'restarted' };
    const after = Number(m[2]);
    if (after > this.n) return { reset: 'ahead' };
    const oldest = this.head < this.kept.length ? this.kept[this.head]!.n : this.n + 1;
    if (after < oldest - 1) return { reset: 'too-old' };
    const events: string[] = [];
    for (let i = this.head + (after - oldest + 1); i < this.kept.length; i++) {
      const k = this.kept[i]!;
      if (k.key.startsWith(prefix)) events.push(k.text);
    }
    return { events };
  }

  private evict(): void {
    while (this.kept.length - this.head > this.limits.maxEvents || (this.bytes > this.limits.maxBytes && this.kept.length - this.head > 1)) {
      this.bytes -= this.kept[this.head]!.text.length;
      this.kept[this.head++] = undefined as unknown as Kept;
    }
    if (this.head > 1024 && this.head * 2 > this.kept.length) {
      this.kept = this.kept.slice(this.head);
      this.head = 0;
    }
  }
}
