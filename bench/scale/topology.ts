/**
 * Who dials whom in a scale run. Nodes start in index order and only dial
 * nodes started before them (their ports are known), so every edge is
 * (later → earlier); the fleet keeps one connection per pair either way.
 */
export type TopologyName = 'mesh' | 'fanout';

/** Peers (indexes) node `i` of `n` dials. */
export function dials(topology: TopologyName, i: number, n: number): number[] {
  if (topology === 'mesh') return Array.from({ length: i }, (_, j) => j);
  // Limited fan-out: a line (i-1) plus a chord halfway back (log-diameter),
  // and the last node closes the ring to node 0: each node dials 1 to 3 peers.
  const out = new Set<number>();
  if (i >= 1) out.add(i - 1);
  if (i >= 2) out.add(Math.floor((i - 1) / 2));
  if (i === n - 1 && n > 3) out.add(0);
  return [...out];
}

/** Undirected adjacency of the whole fleet. */
export function adjacency(topology: TopologyName, n: number): Set<number>[] {
  const adj = Array.from({ length: n }, () => new Set<number>());
  for (let i = 0; i < n; i++) {
    for (const j of dials(topology, i, n)) {
      adj[i]!.add(j);
      adj[j]!.add(i);
    }
  }
  return adj;
}

/** Longest shortest path (hops) between two nodes. */
export function diameter(adj: Set<number>[]): number {
  let worst = 0;
  for (let s = 0; s < adj.length; s++) {
    const dist = new Map([[s, 0]]);
    const queue = [s];
    while (queue.length > 0) {
      const u = queue.shift()!;
      for (const v of adj[u]!) {
        if (dist.has(v)) continue;
        dist.set(v, dist.get(u)! + 1);
        queue.push(v);
      }
    }
    worst = Math.max(worst, ...dist.values());
  }
  return worst;
}
