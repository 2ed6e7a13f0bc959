import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** Every module under src/ (relative path, no extension) → the src modules it imports, type-only imports included. */
function importGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  const walk = (dir: string): void => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else if (d.name.endsWith('.ts')) {
        const from = path.relative(SRC, p).replace(/\.ts$/, '');
        const deps = new Set<string>();
        const text = fs.readFileSync(p, 'utf8');
        for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g)) {
          const spec = (m[1] ?? m[2])!;
          deps.add(path.relative(SRC, path.resolve(path.dirname(p), spec)).replace(/\.js$/, ''));
        }
        graph.set(from, deps);
      }
    }
  };
  walk(SRC);
  return graph;
}

/** The layer a module belongs to; a module may import only its own layer and those below it. */
function layer(mod: string): number {
  const top = mod.split('/')[0]!;
  if (['errors', 'version', 'entry', 'util', 'config'].includes(top)) return 0;
  if (['log', 'store'].includes(top)) return 1;
  if (['node', 'node-host', 'node-status', 'metrics'].includes(top)) return 2;
  if (['replication', 'mqtt', 'uplink', 'http', 'ops', 'robots', 'conflicts'].includes(top)) return 3;
  if (['services', 'daemon', 'index'].includes(top)) return 4;
  if (top === 'cli') return 5;
  throw new Error(`module ${mod} is in no layer: add its folder to test/structure/layers.test.ts`);
}

describe('the layering of src/', () => {
  const graph = importGraph();

  it('no module imports from a layer above its own (the core never knows what is built on it)', () => {
    const upward: string[] = [];
    for (const [from, deps] of graph) for (const to of deps) if (layer(to) > layer(from)) upward.push(`${from} → ${to}`);
    expect(upward).toEqual([]);
  });

  it('services see the node through NodeHost (src/node-host.ts), never the FleetNode class', () => {
    // ops/offline runs a core node itself (fleetkv export --offline): it is composition, not a service.
    const composes = new Set(['ops/offline']);
    const direct: string[] = [];
    for (const [from, deps] of graph) if (layer(from) === 3 && !composes.has(from) && deps.has('node')) direct.push(from);
    expect(direct).toEqual([]);
  });

  it('the import graph has no cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (m: string): void => {
      if (state.get(m) === 'done') return;
      if (state.get(m) === 'open') {
        cycles.push([...stack.slice(stack.indexOf(m)), m].join(' → '));
        return;
      }
      state.set(m, 'open');
      stack.push(m);
      for (const d of graph.get(m) ?? []) visit(d);
      stack.pop();
      state.set(m, 'done');
    };
    for (const m of graph.keys()) visit(m);
    expect(cycles).toEqual([]);
  });

  it('the graph is read (a parser that finds nothing would pass the checks above)', () => {
    expect(graph.get('daemon')).toContain('node');
    expect(graph.get('services')).toContain('mqtt/service');
    expect(graph.get('replication/service')).toContain('node-host');
  });
});
