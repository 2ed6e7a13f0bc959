import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SdNotify } from '../../src/util/sdnotify.js';
import { NodeProc, tempDir, waitFor } from '../helpers/proc.js';
import { NotifySocket } from './notify-socket.js';

describe('sd_notify through systemd-notify', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('a node under a NOTIFY_SOCKET sends READY=1, WATCHDOG=1 pings while running, and STOPPING=1 on SIGTERM', async () => {
    const dir = tempDir();
    const sock = await new NotifySocket(path.join(dir, 'notify.sock')).open();
    cleanup.push(() => sock.close());
    // 200 ms watchdog → a ping every 100 ms.
    const node = await new NodeProc({ nodeId: 'sd1', dataDir: path.join(dir, 'data'), env: { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '200000' } }).start();
    cleanup.push(() => node.stop());
    await waitFor(() => sock.with('READY=1').length === 1, 'READY=1');
    expect(sock.with('READY=1')[0]).toMatch(/STATUS=fleetkv .* serving http :\d+/);
    await waitFor(() => sock.with('WATCHDOG=1').length >= 3, 'three WATCHDOG=1 pings');
    expect(await node.stop()).toBe(0);
    await waitFor(() => sock.with('STOPPING=1').length === 1, 'STOPPING=1');
  });

  it('a watchdog meant for another pid is not pinged', () => {
    const sd = new SdNotify({ env: { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '2000000', WATCHDOG_PID: String(process.pid + 1) } });
    expect(sd.watchdogMs).toBeUndefined();
    expect(new SdNotify({ env: { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '2000000', WATCHDOG_PID: String(process.pid) } }).watchdogMs).toBe(1000);
  });

  it('without NOTIFY_SOCKET nothing is sent', async () => {
    const sent: string[][] = [];
    const sd = new SdNotify({ env: { WATCHDOG_USEC: '2000000' }, send: async (_s, a) => void sent.push(a) });
    expect(await sd.ready('x')).toBe(false);
    sd.startWatchdog(() => true);
    expect(sd.watchdogMs).toBeUndefined();
    expect(sent).toEqual([]);
  });

  it('an unhealthy node withholds its ping; a healthy one pings', async () => {
    const sent: string[][] = [];
    let healthy = false;
    const sd = new SdNotify({ env: { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '20000' }, send: async (_s, a) => void sent.push(a) });
    sd.startWatchdog(() => healthy);
    cleanup.push(() => sd.stopWatchdog());
    expect(sent).toEqual([]); // the first tick ran at once and was withheld
    healthy = true;
    await waitFor(() => sent.length > 0, 'a ping once healthy');
    expect(sent[0]).toEqual(['WATCHDOG=1']);
  });

  it('a failing sender warns once and reports false, never throws', async () => {
    const warnings: unknown[] = [];
    const logger = { warn: (...a: unknown[]) => warnings.push(a) } as never;
    const sd = new SdNotify({ env: { NOTIFY_SOCKET: '/x' }, logger, send: () => Promise.reject(new Error('ENOENT')) });
    expect(await sd.ready('x')).toBe(false);
    expect(await sd.stopping()).toBe(false);
    expect(warnings).toHaveLength(1);
  });
});
