import fs from 'node:fs';
import path from 'node:path';
import { listLogDir, segmentPath } from '../../src/log/files.js';
import { runCli, tempDir, waitFor } from '../helpers/proc.js';
import { NetNs, canNetns } from '../helpers/netns.js';
import { TinyFs, canUnshare } from '../helpers/tinyfs.js';
import type { Scenario, ScenarioContext } from './lib/campaign.js';
import { powerScenarios } from './scenarios-power.js';
import { scenarios as clockScenarios } from './scenarios-clocks.js';
import { scenarios as identityScenarios } from './scenarios-identity.js';
import { scenarios as consumerScenarios } from './scenarios-consumers.js';
import { scenarios as shipScenarios } from './scenarios-ship.js';

const FAKETIME_LIB = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1'].find((p) => fs.existsSync(p));
const NO_ENV: Record<string, string> = {};
const hasFiu = fs.existsSync('/usr/bin/fiu-run');

function pick(n: number): number {
  return Math.floor(Math.random() * n);
}

/** A fault that flips on and off by itself while the workload runs. */
async function flapping(ctx: ScenarioContext, periodMs: number, writes: number): Promise<void> {
  let cut = false;
  const timer = setInterval(() => {
    cut = !cut;
    if (cut) ctx.fleet.isolate(pick(ctx.fleet.nodes.length));
    else ctx.fleet.heal();
  }, periodMs);
  try {
    await ctx.progress(writes);
  } finally {
    clearInterval(timer);
  }
}

/** Wait until the other nodes hold everything node i has applied (its vector). */
async function othersCaughtUp(ctx: ScenarioContext, i: number): Promise<void> {
  const mine = (await ctx.fleet.nodes[i]!.status()).vector as Record<string, number>;
  await waitFor(async () => {
    for (const [j, n] of ctx.fleet.nodes.entries()) {
      if (j === i) continue;
      const v = (await n.status()).vector as Record<string, number>;
      for (const [stream, seq] of Object.entries(mine)) if ((v[stream] ?? 0) < seq) return false;
    }
    return true;
  }, `peers to hold everything n${i} has`);
}

export const scenarios: Scenario[] = [
  {
    name: 'isolate one node',
    ci: true,
    async inject(ctx) {
      ctx.fleet.isolate(0);
      await ctx.progress(400);
    },
  },
  {
    name: 'one-way partition',
    ci: false,
    async inject(ctx) {
      ctx.fleet.oneWay(0, 1);
      ctx.fleet.oneWay(0, 2);
      await ctx.progress(400);
    },
  },
  {
    name: 'partial mesh (n0 and n2 only reach n1)',
    ci: false,
    async inject(ctx) {
      ctx.fleet.link(0, 2).drop();
      await ctx.progress(400);
    },
    async heal(ctx) {
      // The n0–n2 link stays cut: convergence must come through n1's relaying.
      for (const p of [ctx.fleet.link(0, 1), ctx.fleet.link(1, 2)]) p.pass();
    },
  },
  {
    name: 'flapping links (cut/heal every 300 ms)',
    ci: false,
    async inject(ctx) {
      await flapping(ctx, 300, 1500);
    },
  },
  {
    name: 'kill -9 and restart a random node, 3 times',
    ci: true,
    async inject(ctx) {
      for (let round = 0; round < 3; round++) {
        const i = pick(ctx.fleet.nodes.length);
        await ctx.fleet.nodes[i]!.kill9();
        ctx.note(`killed n${i}`);
        await ctx.progress(150);
        await ctx.fleet.restart(i);
        await ctx.progress(100);
      }
    },
  },
  {
    name: 'SIGSTOP one node for 5 s',
    ci: false,
    async inject(ctx) {
      const n = ctx.fleet.nodes[1]!;
      const t0 = Date.now();
      n.child.kill('SIGSTOP');
      try {
        await ctx.progress(200);
        await waitFor(() => Date.now() - t0 >= 5000, 'the 5 s freeze to pass', 10_000, 50);
      } finally {
        n.child.kill('SIGCONT');
      }
      await ctx.progress(100);
    },
  },
  {
    name: '5 % packet loss and a 2 Mbit/s cap (network namespace)',
    ci: false,
    async prepare() {
      if (!canNetns) throw new Error('this scenario needs root, iproute2, iptables and tc (network namespaces); the machine forbids them');
      const net = new NetNs().start();
      lossyNet = net;
      return {
        fleet: { direct: true, httpHost: net.address, wrap: () => net.wrap },
        cleanup: () => net.stop(),
      };
    },
    async inject(ctx) {
      lossyNet.impair(5, 2000);
      ctx.note('peer traffic: 5 % loss, 2 Mbit/s');
      await ctx.progress(600, 120_000);
    },
    async heal() {
      lossyNet.clear();
    },
  },
  {
    name: 'clock skew +2 s / -2 s (libfaketime)',
    ci: false,
    skewed: true,
    fleet: {
      nodeEnv: (i) => (FAKETIME_LIB && i < 2 ? { LD_PRELOAD: FAKETIME_LIB, FAKETIME: i === 0 ? '+2s' : '-2s', FAKETIME_DONT_FAKE_MONOTONIC: '1', FAKETIME_DONT_RESET: '1' } : NO_ENV),
    },
    async inject(ctx) {
      if (!FAKETIME_LIB) ctx.note('libfaketime not installed: ran without skew');
      await ctx.progress(600);
    },
  },
  {
    name: 'clock skew +2 s on a node cut off from the rest (libfaketime)',
    ci: false,
    skewed: true,
    fleet: {
      nodeEnv: (i) => (FAKETIME_LIB && i === 0 ? { LD_PRELOAD: FAKETIME_LIB, FAKETIME: '+2s', FAKETIME_DONT_FAKE_MONOTONIC: '1', FAKETIME_DONT_RESET: '1' } : NO_ENV),
    },
    async inject(ctx) {
      if (!FAKETIME_LIB) ctx.note('libfaketime not installed: ran without skew');
      // Cut off, n0 cannot see the others' newer writes: its clock, 2 s fast, makes its
      // writes win over ones made up to 2 s later elsewhere. The checker counts them.
      ctx.fleet.isolate(0);
      await ctx.progress(600);
      ctx.note('overrides by the fast clock are counted as lost, expected under LWW');
    },
  },
  {
    name: 'clock jump back 3 s on one node (libfaketime)',
    ci: false,
    skewed: true,
    async prepare() {
      const dir = tempDir('fleetkv-faketime-');
      const file = path.join(dir, 'offset');
      fs.writeFileSync(file, '+0s\n');
      jumpFile = file;
      return {
        fleet: {
          nodeEnv: (i) => (FAKETIME_LIB && i === 0 ? { LD_PRELOAD: FAKETIME_LIB, FAKETIME_TIMESTAMP_FILE: file, FAKETIME_CACHE_DURATION: '0', FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' } : NO_ENV),
        },
        cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
      };
    },
    async inject(ctx) {
      if (!FAKETIME_LIB) ctx.note('libfaketime not installed: ran without a jump');
      await ctx.progress(200);
      fs.writeFileSync(jumpFile, '-3s\n');
      ctx.note('n0 clock jumped back 3 s');
      await ctx.progress(400);
    },
  },
  {
    name: 'disk full on one node, then space back',
    ci: true,
    async prepare() {
      if (!canUnshare) throw new Error('disk-full scenario needs root and unshare (mount namespaces)');
      const disk = await new TinyFs().start(384);
      fullDisk = disk;
      return { fleet: { wrap: (i) => (i === 0 ? disk.wrap : undefined), dataDir: (i) => (i === 0 ? `${disk.dir}/n0` : undefined) }, cleanup: () => disk.stop() };
    },
    async inject(ctx) {
      // Fill n0's disk: its own writes and the entries its peers send both hit the wall.
      await waitFor(async () => (await ctx.fleet.nodes[0]!.status()).log.lastError?.code === 'DISK_FULL', 'n0 to report DISK_FULL', 120_000, 100);
      ctx.note('n0 disk full');
      await ctx.progress(200);
      const n0 = ctx.fleet.nodes[0]!;
      if (n0.exitCode !== undefined) throw new Error(`n0 went down on a full disk: ${n0.stderr} ${JSON.stringify(n0.logs.slice(-5))}`);
    },
    async heal(ctx) {
      fullDisk.resize(64 * 1024);
      ctx.fleet.heal();
    },
    workload: { writersPerNode: 3 },
  },
  {
    name: 'fsync errors on one node (libfiu, 2 %)',
    ci: false,
    fleet: {
      wrap: (i) => (hasFiu && i === 0 ? (argv) => ['fiu-run', '-x', '-c', 'enable_random name=posix/io/sync/fdatasync,probability=0.02,failinfo=5', ...argv] : undefined),
    },
    async inject(ctx) {
      if (!hasFiu) ctx.note('fiu-utils not installed: ran without injected errors');
      await ctx.progress(800);
    },
  },
  {
    name: 'bit flip in an old log segment, repair, rejoin',
    ci: true,
    fleet: { env: { FLEETKV_SEGMENT_BYTES: '16384', FLEETKV_COMPACT_RATIO: '1000' } },
    async inject(ctx) {
      const i = 2;
      const node = ctx.fleet.nodes[i]!;
      await ctx.progress(600);
      ctx.workload.paused.add(node.opts.nodeId);
      await othersCaughtUp(ctx, i);
      await node.kill9();
      const dir = ctx.fleet.dirs[i]!;
      const first = listLogDir(dir).segments[0]!;
      const file = segmentPath(dir, first);
      const buf = fs.readFileSync(file);
      const at = Math.floor(buf.length / 2);
      buf[at] = buf[at]! ^ 0x04;
      fs.writeFileSync(file, buf);
      const refused = await ctx.fleet.restart(i).then(
        () => false,
        (err: unknown) => /LOG_CORRUPT|log corrupt/.test(String(err)),
      );
      if (!refused) throw new Error('n2 started on a corrupt log');
      ctx.note(`flipped a bit at ${path.basename(file)}:${at}; start refused`);
      const repair = await runCli(['repair', '--data-dir', dir], { env: { FLEETKV_NODE_ID: node.opts.nodeId } });
      if (repair.code !== 0) throw new Error(`repair failed: ${repair.stderr}`);
      await ctx.fleet.restart(i);
      ctx.workload.paused.delete(node.opts.nodeId);
      await ctx.progress(200);
    },
  },
  // Power cuts of the real build, and the deliberately broken builds the campaign must catch.
  ...powerScenarios,
  ...clockScenarios,
  ...identityScenarios,
  ...shipScenarios,
  ...consumerScenarios,
];

let jumpFile = '';
let lossyNet: NetNs;
let fullDisk: TinyFs;
