import { describe, expect, it } from 'vitest';
import { check, type WriteOp } from '../helpers/checker.js';

const op = (key: string, value: string, start: number, end: number, outcome: WriteOp['outcome'] = 'ok', node = 'a'): WriteOp => ({ node, key, value, outcome, start, end });

describe('campaign checker', () => {
  const ops = [op('k', 'v1', 0, 1), op('k', 'v2', 2, 3), op('j', 'w1', 0, 5, 'unknown'), op('j', 'w2', 1, 2)];

  it('passes a history whose final state keeps every acknowledged write', () => {
    const finals = {
      a: new Map([
        ['k', 'v2'],
        ['j', 'w1'],
      ]),
      b: new Map([
        ['k', 'v2'],
        ['j', 'w1'],
      ]),
    };
    expect(check(ops, finals)).toMatchObject({ attempted: 4, acknowledged: 3, unknown: 1, lost: 0, phantom: 0, replicasEqual: true });
  });

  it('reports a write overridden by one acknowledged before it started as lost', () => {
    const finals = {
      a: new Map([
        ['k', 'v1'],
        ['j', 'w2'],
      ]),
    };
    const r = check(ops, finals);
    expect(r.lost).toBe(1);
    expect(r.examples.join()).toContain('k=v2');
  });

  it('reports a missing key with an acknowledged write as lost, and values nobody wrote as phantoms', () => {
    const r = check(ops, { a: new Map([['j', 'nobody-wrote-this']]) });
    expect(r.lost).toBe(3); // v1, v2 (key k absent) and w2 (replaced by a phantom)
    expect(r.phantom).toBe(1);
  });

  it('reports replicas that differ', () => {
    const r = check(ops, { a: new Map([['k', 'v2']]), b: new Map([['k', 'v1']]) });
    expect(r.replicasEqual).toBe(false);
  });

  it('accepts either of two concurrent writes as the winner', () => {
    const conc = [op('k', 'x', 0, 10), op('k', 'y', 1, 9)];
    expect(check(conc, { a: new Map([['k', 'x']]) }).lost).toBe(0);
    expect(check(conc, { a: new Map([['k', 'y']]) }).lost).toBe(0);
  });
});

describe('campaign checker: deletes', () => {
  const del = (key: string, start: number, end: number, outcome: WriteOp['outcome'] = 'ok'): WriteOp => ({ node: 'a', key, value: undefined, outcome, start, end });

  it('accepts an absent key when a delete ordered after the put', () => {
    expect(check([op('k', 'v1', 0, 1), del('k', 2, 3)], { a: new Map() }).lost).toBe(0);
    expect(check([op('k', 'v1', 0, 10), del('k', 2, 3)], { a: new Map() }).lost).toBe(0); // concurrent
  });

  it('reports a put that vanished with no delete after it', () => {
    const r = check([del('k', 0, 1), op('k', 'v1', 2, 3)], { a: new Map() });
    expect(r.lost).toBe(1);
  });

  it('reports a resurrection: a delete undone by a value acknowledged before it', () => {
    const r = check([op('k', 'v1', 0, 1), del('k', 2, 3)], { a: new Map([['k', 'v1']]) });
    expect(r.lost).toBe(1);
    expect(r.examples.join()).toContain('<delete>');
  });
});

describe('campaign checker: renumbered entries', () => {
  it('reports one (origin, inc, seq) acknowledged for two different writes', () => {
    const a = { ...op('k', 'v1', 0, 1), stamp: 'n0:1:7' };
    const b = { ...op('j', 'v2', 2, 3), stamp: 'n0:1:7' };
    const c = { ...op('k', 'v3', 4, 5), stamp: 'n0:2:7' };
    const finals = {
      a: new Map([
        ['k', 'v3'],
        ['j', 'v2'],
      ]),
    };
    expect(check([a, c], finals).reused).toBe(0);
    const r = check([a, b, c], finals);
    expect(r.reused).toBe(1);
    expect(r.examples.join()).toContain('reused n0:1:7');
  });

  it('returns the lost writes themselves', () => {
    const r = check([op('k', 'v1', 0, 1), op('k', 'v2', 2, 3)], { a: new Map([['k', 'v1']]) });
    expect(r.lostWrites.map((w) => w.value)).toEqual(['v2']);
  });
});
