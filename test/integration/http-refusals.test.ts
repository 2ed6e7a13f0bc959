import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProc, tempDir } from '../helpers/proc.js';

/** Requests the API does not serve are refused with a stable code, and write nothing. */
describe('HTTP API refusals', () => {
  const dir = tempDir('fleetkv-refuse-');
  let node: NodeProc;
  beforeAll(async () => {
    node = await new NodeProc({ nodeId: 'r1', dataDir: path.join(dir, 'r1'), env: { FLEETKV_MQTT_ENABLED: 'false' } }).start();
  });
  afterAll(async () => {
    await node?.stop();
  });

  const errorOf = async (r: Response): Promise<{ status: number; code: string; message: string; allow: string | null }> => {
    const body = (await r.json()) as { error: { code: string; message: string } };
    return { status: r.status, ...body.error, allow: r.headers.get('allow') };
  };

  it('a wrong method is 405 METHOD_NOT_ALLOWED with an Allow header', async () => {
    expect(await errorOf(await node.fetch('/v1/kv/k', { method: 'PATCH', body: 'v' }))).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED', allow: 'GET, HEAD, PUT, POST, DELETE' });
    expect(await errorOf(await node.fetch('/v1/admin/compact'))).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED', allow: 'POST' });
    expect(await errorOf(await node.fetch('/v1/admin/snapshot', { method: 'POST' }))).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED', allow: 'GET' });
    expect(await errorOf(await node.fetch('/v1/status', { method: 'DELETE' }))).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED', allow: 'GET, HEAD' });
    expect(await errorOf(await node.fetch('/v1/kv?prefix=', { method: 'PUT', body: 'v' }))).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED' });
    expect(await node.get('k')).toBeUndefined();
  });

  it('unknown query parameters are refused with 400 and write nothing (?tll=3s); a bad or absurd ttl is 400 TTL_INVALID', async () => {
    const put = await errorOf(await node.fetch('/v1/kv/k?tll=3s', { method: 'PUT', body: 'v' }));
    expect(put).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    expect(put.message).toContain('unknown query parameter "tll" on /v1/kv/k');
    for (const ttl of ['banana', '0s', '-1s', '3d', '1000000h']) {
      const bad = await errorOf(await node.fetch(`/v1/kv/k?ttl=${ttl}`, { method: 'PUT', body: 'v' }));
      expect(bad, ttl).toMatchObject({ status: 400, code: 'TTL_INVALID' });
    }
    expect(await node.get('k')).toBeUndefined();
    const list = await errorOf(await node.fetch('/v1/kv?prefix=a&limt=5'));
    expect(list).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    expect(list.message).toContain('known: prefix, limit, after');
    expect((await node.fetch('/v1/watch?prefix=a&since=1')).status).toBe(400);
    expect((await node.fetch('/v1/status?verbose=1')).status).toBe(400);
    // Known parameters still work.
    expect((await node.put('k', 'v')).status).toBe(200);
    expect((await node.fetch('/v1/kv?prefix=k&limit=5&after=')).status).toBe(200);
    expect(await node.get('k')).toBe('v');
  });
});
