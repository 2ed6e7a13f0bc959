import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendJson, sendWriteResult } from '../../src/http/respond.js';
import type { WriteResult } from '../../src/node-host.js';

/** The built write answer must be byte for byte what sendJson gives, headers included. */
describe('sendWriteResult', () => {
  let server: http.Server;
  let port = 0;
  const results: WriteResult[] = [
    { key: 'robots/r1/status', origin: 'n1', inc: 3, seq: 1, hlc: '118098908365996032' },
    { key: 'a "quoted" \\ key/ünïcødé/😀', origin: 'robot-7', inc: 4_294_967_295, seq: 2 ** 53 - 1, hlc: '0' },
    { key: 'x\u0001y\u2028z', origin: 'n1', inc: 1, seq: 42, hlc: '7' },
  ];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const [mode, i] = (req.url ?? '').slice(1).split('/');
      const r = results[Number(i)]!;
      if (mode === 'built') sendWriteResult(res, r);
      else sendJson(res, 200, r);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = async (path: string): Promise<{ body: string; type: string | null; length: string | null; status: number }> => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`);
    return { body: await r.text(), type: r.headers.get('content-type'), length: r.headers.get('content-length'), status: r.status };
  };

  it('answers every write result as sendJson does', async () => {
    for (let i = 0; i < results.length; i++) {
      const built = await get(`/built/${i}`);
      expect(built).toEqual(await get(`/json/${i}`));
      expect(JSON.parse(built.body)).toEqual(results[i]);
    }
  });
});
