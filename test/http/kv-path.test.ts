import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PLAIN_KV_PATH } from '../../src/http/server.js';

/** The /v1/kv/ fast path (no URL parser) must give the very path the URL parser gives, or not be taken. */
describe('plain /v1/kv/ paths', () => {
  const pathname = (p: string): string => new URL(p, 'http://fleetkv').pathname;

  it('takes the fast path only where the URL parser would leave the path as it is', () => {
    const chars = fc.constantFrom(...'aZ09-_.~!$&\'()*+,;=:@%/ ?#\\"<>`{}|^[]\t'.split(''), ...['%2e', '%2E', '..', '/.', '%20', 'é']);
    fc.assert(
      fc.property(fc.array(chars, { minLength: 1, maxLength: 12 }), (parts) => {
        const p = `/v1/kv/${parts.join('')}`;
        if (PLAIN_KV_PATH.test(p)) expect(pathname(p)).toBe(p);
      }),
      { numRuns: 20_000 },
    );
  });

  it('takes it for ordinary keys, and not for a query, a dot segment or an encoded dot', () => {
    for (const p of ['/v1/kv/robots/r1/status', '/v1/kv/a%23b', '/v1/kv/a..b', "/v1/kv/'x'"]) expect(PLAIN_KV_PATH.test(p)).toBe(true);
    for (const p of ['/v1/kv/a?ttl=1s', '/v1/kv/a/../b', '/v1/kv/a/%2E%2e/b', '/v1/kv/a b', '/v1/kv/', '/v1/kv/a#b', 'http://x/v1/kv/a']) expect(PLAIN_KV_PATH.test(p)).toBe(false);
  });
});
