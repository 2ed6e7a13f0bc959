import type { Entry } from './entry/entry.js';
import { formatHlc } from './entry/hlc.js';
import type { ApplyListener, ApplySource, NodeHost, Source } from './node-host.js';
import { statusKeyNode } from './mqtt/topics.js';
import type { ApplyResult } from './store/store.js';

export interface ConflictSide {
  origin: string;
  inc: number;
  seq: number;
  hlc: string;
  op: 'put' | 'del';
}

/** A write that lost, or one that may have replaced a concurrent write (docs/mqtt.md, `conflicts`). */
export interface Conflict {
  key: string;
  reason: 'superseded' | 'concurrent';
  winner: ConflictSide;
  loser: ConflictSide;
  detectedBy: string;
  source: Source;
}

function side(e: Entry): ConflictSide {
  return { origin: e.origin, inc: e.inc, seq: e.seq, hlc: formatHlc(e.wall, e.logical), op: e.isDelete ? 'del' : 'put' };
}

/**
 * An entry that lost LWW, or one that replaced a value another origin wrote
 * within maxClockSkew (possibly concurrent: one of the two writes is gone).
 * Node status records (docs/adr/0200) are never reported. Undefined when the apply was no conflict. One rule for the MQTT
 * `conflicts` topic and the fleet page.
 */
export function describeConflict(node: NodeHost, e: Entry, result: ApplyResult, other: Entry | undefined, source: ApplySource): Conflict | undefined {
  if (result === 'duplicate' || other === undefined || statusKeyNode(e.key) !== undefined) return undefined;
  const lost = result === 'superseded';
  if (!lost && (other.origin === e.origin || Math.abs(e.wall - other.wall) > node.config.maxClockSkew)) return undefined;
  const [winner, loser] = lost ? [other, e] : [e, other];
  return { key: e.key, reason: lost ? 'superseded' : 'concurrent', winner: side(winner), loser: side(loser), detectedBy: node.nodeId, source: source === 'local' ? 'local' : 'remote' };
}

/** The last `capacity` conflicts this node detected, newest last (for /v1/fleet and the fleet page). */
export class RecentConflicts {
  private readonly items: (Conflict & { at: string })[] = [];
  private readonly off: () => void;

  constructor(
    node: NodeHost,
    readonly capacity = 20,
  ) {
    const listener: ApplyListener = (e, result, other, source) => {
      const c = describeConflict(node, e, result, other, source);
      if (!c) return;
      this.items.push({ ...c, at: new Date().toISOString() });
      if (this.items.length > this.capacity) this.items.shift();
    };
    this.off = node.onApplied(listener);
  }

  list(): (Conflict & { at: string })[] {
    return [...this.items];
  }

  close(): void {
    this.off();
  }
}
