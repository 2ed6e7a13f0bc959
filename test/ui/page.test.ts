import fs from 'node:fs';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProc, tempDir, waitFor } from '../helpers/proc.js';
import { peerAddress, startNode } from '../replication/fleet.js';

/** The little of the DOM these tests touch (the code runs in the page; the test's TS config has no DOM lib). */
interface El {
  innerText: string;
  textContent: string | null;
  hidden: boolean;
  className: string;
  getAttribute(name: string): string | null;
}
declare const document: { querySelector(selector: string): El | null };
declare const window: Record<string, unknown>;

const CHROMIUM = '/usr/bin/chromium';
/** Set to a file path to save a screenshot of the page (docs/figures/fleet-page.png is made this way). */
const SCREENSHOT = process.env.FLEETKV_UI_SCREENSHOT;

async function put(n: NodeProc, key: string, value: unknown): Promise<void> {
  const r = await n.fetch(`/v1/kv/${key}`, { method: 'PUT', body: JSON.stringify(value) });
  expect(r.status).toBe(200);
}

async function robot(n: NodeProc, x: number, y: number, yaw: number, status: string, battery: number): Promise<void> {
  const id = n.opts.nodeId;
  await put(n, `robots/${id}/pose`, { x, y, yaw, map: 'L1' });
  await put(n, `robots/${id}/status`, status);
  await put(n, `robots/${id}/battery`, battery);
}

/** The fleet page in Debian's Chromium, headless, against a real three-node fleet (MQTT on: nodes write status records). */
describe('the fleet page (/ui/) in Chromium', () => {
  const dirs: string[] = [];
  const nodes: NodeProc[] = [];
  let browser: Browser;
  let page: Page;
  let profile: string;
  const problems: string[] = [];
  const foreign: string[] = [];
  const streams: string[] = [];

  beforeAll(async () => {
    const env = { FLEETKV_MQTT_ENABLED: 'true' };
    dirs.push(tempDir(), tempDir(), tempDir());
    const a = await startNode('ra', { dataDir: dirs[0]!, env });
    const b = await startNode('rb', { dataDir: dirs[1]!, env, peers: [peerAddress(a)] });
    const c = await startNode('rc', { dataDir: dirs[2]!, env, peers: [peerAddress(a), peerAddress(b)] });
    nodes.push(a, b, c);
    await robot(a, 0, 0, 0, 'idle', 0.9);
    await robot(b, 4, 2, 1.57, 'moving', 0.55);
    await robot(c, -3, 5, 3.14, 'charging', 0.2);
    profile = tempDir('fleetkv-chromium-');
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir: profile,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--headless', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 820 });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${String(err)}`));
    page.on('request', (r) => {
      if (!r.url().startsWith(a.url) && !r.url().startsWith('data:')) foreign.push(r.url());
      if (r.resourceType() === 'eventsource') streams.push(r.url().slice(a.url.length));
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(nodes.map((n) => n.stop()));
    for (const d of [...dirs, profile]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  const robotRow = (id: string): Promise<{ text: string; cls: string } | null> =>
    page.evaluate((rid) => {
      const tr = document.querySelector(`#robots tr[data-robot="${rid}"]`);
      return tr ? { text: (tr as unknown as El).innerText, cls: tr.className } : null;
    }, id);
  const nodeOnline = (id: string): Promise<string | null> => page.evaluate((nid) => document.querySelector(`#nodes tr[data-node="${nid}"]`)?.getAttribute('data-online') ?? null, id);
  const marker = (id: string): Promise<Record<string, string> | null> =>
    page.evaluate((rid) => {
      const g = document.querySelector(`#map g[data-robot="${rid}"]`);
      return g ? { x: g.getAttribute('data-x')!, y: g.getAttribute('data-y')!, yaw: g.getAttribute('data-yaw')!, transform: g.getAttribute('transform')!, cls: g.getAttribute('class')! } : null;
    }, id);

  it('/ redirects to the page; it loads without console errors and shows every robot and node, from the node alone', async () => {
    const a = nodes[0]!;
    const res = await page.goto(`${a.url}/`, { waitUntil: 'load' });
    expect(page.url()).toBe(`${a.url}/ui/`);
    expect(res?.status()).toBe(200);
    await waitFor(async () => (await page.$$('#robots tr[data-robot]')).length === 3, 'three robot rows', 30_000);
    await waitFor(async () => (await Promise.all(['ra', 'rb', 'rc'].map(nodeOnline))).every((o) => o === 'true'), 'three nodes online', 30_000);
    const rb = (await robotRow('rb'))!;
    expect(rb.text).toMatch(/rb\s+moving\s+55 %\s+4\.00, 2\.00, 1\.57/);
    expect(rb.text).toMatch(/online$/);
    expect((await robotRow('rc'))!.text).toMatch(/charging\s+20 %/);
    expect(await marker('rb')).toMatchObject({ x: '4', y: '2', yaw: '1.57', transform: 'translate(4 2)' });
    // Each node shows its peers (ra from its live sessions, the others from their status records).
    await waitFor(
      async () => {
        const t = await page.evaluate(() => (document.querySelector('#nodes tr[data-node="rb"]') as El | null)?.innerText ?? '');
        return /ra \((live|syncing)\)/.test(t) && /rc \((live|syncing)\)/.test(t);
      },
      "rb's peers from its status record",
      30_000,
    );
    expect(await page.$eval('#live', (e) => e.textContent)).toBe('live');
    // Live updates come over the node's own watch stream (SSE).
    expect(streams.sort()).toEqual(['/v1/watch?prefix=_fleetkv%2Fnodes%2F', '/v1/watch?prefix=robots%2F']);
    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
  }, 90_000);

  it('follows a pose change live, without a reload', async () => {
    await page.evaluate(() => (window.notReloaded = true));
    await put(nodes[1]!, 'robots/rb/pose', { x: 7.5, y: -1, yaw: -0.5, map: 'L1' });
    await waitFor(async () => (await marker('rb'))?.x === '7.5', "rb's marker at x=7.5", 30_000);
    expect(await marker('rb')).toMatchObject({ y: '-1', yaw: '-0.5', transform: 'translate(7.5 -1)' });
    expect((await robotRow('rb'))!.text).toContain('7.50, -1.00, -0.50');
    expect(await page.evaluate(() => window.notReloaded)).toBe(true);
    expect(problems).toEqual([]);
  }, 60_000);

  it('lists the conflicts this node detected', async () => {
    const [a, b] = [nodes[0]!, nodes[1]!];
    await put(a, 'missions/m-1', { id: 'm-1', assignedTo: 'ra' });
    await waitFor(async () => (await b.fetch('/v1/kv/missions/m-1')).ok, 'm-1 on rb');
    await put(b, 'missions/m-1', { id: 'm-1', assignedTo: 'rb' }); // replaces ra's write moments later: reported as concurrent
    await waitFor(
      async () => {
        const rows = await page.$$eval('#conflicts tbody tr', (trs) => trs.map((tr) => (tr as unknown as El).innerText));
        return rows.some((r) => /missions\/m-1\s+concurrent\s+rb put\s+ra put/.test(r));
      },
      'the conflict on the page',
      30_000,
    );
    expect(await page.$eval('#no-conflicts', (e) => (e as unknown as El).hidden)).toBe(true);
    expect(problems).toEqual([]);
  }, 60_000);

  it('shows a killed node, and its robot, as offline', async () => {
    await nodes[2]!.kill9();
    await waitFor(async () => (await nodeOnline('rc')) === 'false', 'rc shown offline', 30_000);
    await waitFor(async () => (await robotRow('rc'))?.cls === 'offline', 'robot rc shown offline', 30_000);
    expect((await robotRow('rc'))!.text).toMatch(/offline$/);
    expect((await marker('rc'))!.cls).toContain('offline');
    expect(await nodeOnline('ra')).toBe('true');
    expect(await nodeOnline('rb')).toBe('true');
    if (SCREENSHOT) {
      fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT as `${string}.png`, fullPage: true });
    }
    expect(problems).toEqual([]);
  }, 60_000);
});
