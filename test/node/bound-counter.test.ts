import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BoundCounter } from '../../src/metrics.js';

/** BoundCounter must expose exactly what prom-client's Counter exposes for the same calls. */
describe('BoundCounter', () => {
  const pair = () => {
    const a = new Registry();
    const b = new Registry();
    const cfg = { name: 'x_total', help: 'x', labelNames: ['op', 'source'] as const };
    return { plain: new Counter({ ...cfg, registers: [a] }), bound: new BoundCounter({ ...cfg, registers: [b] }), text: async () => [await a.metrics(), await b.metrics()] };
  };

  it('counts the same series as Counter, through resets and added values', async () => {
    const { plain, bound, text } = pair();
    const calls: [Record<string, string | number>, number | undefined][] = [
      [{ op: 'put', source: 'local' }, undefined],
      [{ op: 'put', source: 'local' }, undefined],
      [{ source: 'remote', op: 'del' }, 3],
      [{ op: 'put', source: 'local' }, 2.5],
      [{ op: 'put', source: 7 }, undefined],
    ];
    for (const [l, v] of calls) for (const c of [plain, bound]) c.inc(l as never, v as never);
    let [p, b] = await text();
    expect(b).toBe(p);
    expect(b).toContain('x_total{op="put",source="local"} 4.5');
    plain.reset();
    bound.reset();
    for (const [l, v] of calls.slice(0, 2)) for (const c of [plain, bound]) c.inc(l as never, v as never);
    [p, b] = await text();
    expect(b).toBe(p);
    expect(b).toContain('x_total{op="put",source="local"} 2');
    for (const c of [plain, bound]) c.inc(5);
    [p, b] = await text();
    expect(b).toBe(p);
  });

  it('counts through an incrementer exactly as through inc, through resets', async () => {
    const { plain, bound, text } = pair();
    const putLocal = bound.incrementer({ op: 'put', source: 'local' });
    const delRemote = bound.incrementer({ op: 'del', source: 'remote' });
    let [p, b] = await text();
    expect(b).toBe(p); // no series before the first increment
    for (let i = 0; i < 3; i++) {
      plain.inc({ op: 'put', source: 'local' });
      putLocal();
    }
    plain.inc({ op: 'del', source: 'remote' });
    delRemote();
    [p, b] = await text();
    expect(b).toBe(p);
    expect(b).toContain('x_total{op="put",source="local"} 3');
    plain.reset();
    bound.reset();
    plain.inc({ op: 'put', source: 'local' });
    putLocal();
    [p, b] = await text();
    expect(b).toBe(p);
    expect(b).toContain('x_total{op="put",source="local"} 1');
  });

  it('refuses what Counter refuses: an unknown label, a negative or infinite value', () => {
    const { bound } = pair();
    bound.inc({ op: 'put', source: 'local' });
    expect(() => bound.inc({ op: 'put', nope: 'x' } as never)).toThrow();
    expect(() => bound.inc({ op: 'put', source: 'local' }, -1)).toThrow();
    expect(() => bound.inc({ op: 'put', source: 'local' }, Number.POSITIVE_INFINITY)).toThrow();
  });
});
