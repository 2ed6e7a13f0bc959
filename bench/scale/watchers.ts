/**
 * One server-sent-events watch per node (/v1/watch): records when each key
 * first shows up on each node, so "visible on all nodes" is the time the last
 * node reported it. All times are this process's performance.now().
 */
import { sseEvents } from '../../src/cli/sse.js';
import type { NodeProc } from '../../test/helpers/proc.js';

export class Watchers {
  /** key → [nodes that have it, time the latest of them reported it] */
  private readonly seen = new Map<string, { nodes: number; last: number }>();
  private readonly aborts: AbortController[] = [];

  constructor(private readonly n: number) {}

  async open(nodes: NodeProc[], prefix: string): Promise<void> {
    await Promise.all(nodes.map((node) => this.watch(node, prefix)));
  }

  private async watch(node: NodeProc, prefix: string): Promise<void> {
    const ac = new AbortController();
    this.aborts.push(ac);
    const res = await node.fetch(`/v1/watch?prefix=${encodeURIComponent(prefix)}`, { signal: ac.signal });
    const pump = async (): Promise<void> => {
      // The CLI's parser (src/cli/sse.ts): events carry an id line before their data since watches resume.
      for await (const ev of sseEvents(res.body!)) {
        if (ev.event === undefined && ev.data !== '') this.record((JSON.parse(ev.data) as { key: string }).key, performance.now());
      }
    };
    pump().catch(() => {}); // aborted at close
  }

  private record(key: string, now: number): void {
    const s = this.seen.get(key) ?? { nodes: 0, last: 0 };
    s.nodes++;
    s.last = now;
    this.seen.set(key, s);
  }

  /** When the key was visible on every node, or undefined if not (yet). */
  everywhere(key: string): number | undefined {
    const s = this.seen.get(key);
    return s && s.nodes >= this.n ? s.last : undefined;
  }

  /** How many of `keys` are on every node. */
  countEverywhere(keys: string[]): number {
    let c = 0;
    for (const k of keys) if (this.everywhere(k) !== undefined) c++;
    return c;
  }

  close(): void {
    for (const a of this.aborts) a.abort();
  }
}
