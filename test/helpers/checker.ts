/**
 * The checker of the fault campaign and the replication tests (Jepsen's
 * "set-full" idea, for a LWW register per key).
 *
 * Every write has a unique value and an outcome: ok (acknowledged), failed
 * (refused with an error: it may still have been applied, like Jepsen's
 * "info"), or unknown (no answer). After healing, each replica's final state
 * is read. With the writers' clocks in sync, a write that started after
 * another write to the same key was acknowledged must order after it, so:
 *
 * - lost: an acknowledged write that is not the final state of its key, while
 *   that state comes from a write acknowledged before it started: a put
 *   replaced by an older value, or absent with no delete that could order after
 *   it; a delete undone by an older value (a resurrection). Must be 0.
 * - phantom: a final value nobody wrote. Must be 0.
 * - replicas equal: every node's final state is the same.
 * - reused: an (origin, incarnation, seq) acknowledged for two different
 *   writes (a node renumbered after losing its log tail). Must be 0.
 *
 * Under clock skew the same "lost" count measures the writes that a skewed
 * clock let an earlier write override: reported, not required to be 0.
 */
export type Outcome = 'ok' | 'failed' | 'unknown';

export interface WriteOp {
  node: string;
  key: string;
  /** The unique value written; undefined for a delete. */
  value: string | undefined;
  outcome: Outcome;
  /** ms since the campaign's epoch (performance.now based) */
  start: number;
  end: number;
  /** The entry's identity, "origin:inc:seq", from the acknowledgement (when the writer learns it). */
  stamp?: string;
}

export interface CheckReport {
  attempted: number;
  acknowledged: number;
  failed: number;
  unknown: number;
  lost: number;
  phantom: number;
  replicasEqual: boolean;
  /** Stamps (origin:inc:seq) acknowledged for two different writes. */
  reused: number;
  keys: number;
  /** The lost writes themselves (for loss-window checks). */
  lostWrites: WriteOp[];
  /** A few examples, for the log when something is wrong. */
  examples: string[];
}

export function check(ops: WriteOp[], finals: Record<string, Map<string, string>>): CheckReport {
  const byValue = new Map<string, WriteOp>();
  const byKey = new Map<string, WriteOp[]>();
  for (const op of ops) {
    if (op.value !== undefined) byValue.set(op.value, op);
    let l = byKey.get(op.key);
    if (!l) byKey.set(op.key, (l = []));
    l.push(op);
  }
  const nodes = Object.keys(finals);
  const reference = finals[nodes[0]!] ?? new Map<string, string>();
  const examples: string[] = [];
  let replicasEqual = true;
  for (const n of nodes.slice(1)) {
    const other = finals[n]!;
    if (other.size !== reference.size) replicasEqual = false;
    for (const [k, v] of reference) {
      if (other.get(k) !== v) {
        replicasEqual = false;
        if (examples.length < 5) examples.push(`replicas differ on ${k}: ${nodes[0]}=${v} ${n}=${other.get(k)}`);
      }
    }
  }
  let phantom = 0;
  const lost = new Set<WriteOp>(); // a write lost on any replica counts once
  const seenKeys = new Set<string>();
  for (const n of nodes) {
    for (const [k, v] of finals[n]!) {
      seenKeys.add(k);
      const w = byValue.get(v);
      if (!w || w.key !== k) {
        phantom++;
        if (examples.length < 10) examples.push(`phantom on ${n}: ${k}=${v}`);
      }
    }
  }
  for (const [key, writes] of byKey) {
    for (const n of nodes) {
      const finalValue = finals[n]!.get(key);
      const finalWrite = finalValue === undefined ? undefined : byValue.get(finalValue);
      for (const w of writes) {
        if (w.outcome !== 'ok' || w.value === finalValue) continue; // a put that survived, or a delete that holds
        // Did the final state come from something acknowledged before w started?
        const older = (o: WriteOp): boolean => o.outcome === 'ok' && o.end < w.start;
        const lostHere =
          finalWrite !== undefined
            ? older(finalWrite)
            : finalValue !== undefined // a value nobody wrote replaced it
              ? true
              : !writes.some((d) => d.value === undefined && d.outcome !== 'failed' && !older(d)); // absent, and no delete could order after w
        if (lostHere && !lost.has(w)) {
          if (examples.length < 10) examples.push(`lost on ${n}: ${key}=${w.value ?? '<delete>'} (acked at ${w.end.toFixed(0)}), final ${finalValue ?? '<absent>'}`);
          lost.add(w);
        }
      }
    }
  }
  const stamps = new Map<string, WriteOp>();
  let reused = 0;
  for (const op of ops) {
    if (op.outcome !== 'ok' || op.stamp === undefined) continue;
    const first = stamps.get(op.stamp);
    if (!first) stamps.set(op.stamp, op);
    else if (first !== op) {
      reused++;
      if (examples.length < 10) examples.push(`reused ${op.stamp}: ${first.key}=${first.value ?? '<delete>'} (on ${first.node}) and ${op.key}=${op.value ?? '<delete>'} (on ${op.node})`);
    }
  }
  return {
    attempted: ops.length,
    acknowledged: ops.filter((o) => o.outcome === 'ok').length,
    failed: ops.filter((o) => o.outcome === 'failed').length,
    unknown: ops.filter((o) => o.outcome === 'unknown').length,
    lost: lost.size,
    phantom,
    replicasEqual,
    reused,
    keys: seenKeys.size,
    lostWrites: [...lost],
    examples,
  };
}
