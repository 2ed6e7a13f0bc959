import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeProc, runCli, tempDir, waitFor } from '../helpers/proc.js';

/**
 * The data dir's LOCK names its owner (pid, boot id, start time). A restart
 * right after kill -9 must not be refused while the killed node is a zombie
 * (its parent has not reaped it yet), nor because another process got the pid.
 */
const procState = (pid: number): string | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
};

describe('data dir lock', () => {
  const nodes: NodeProc[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.kill9();
  });
  const env = { FLEETKV_MQTT_ENABLED: 'false' };

  it('a restart right after kill -9 takes over the lock of the killed node while it is a zombie', async () => {
    const dir = tempDir('fleetkv-lock-');
    // The node runs under a parent that never reaps it (sh forks it, then becomes `sleep`),
    // so after kill -9 it stays a zombie, as under a supervisor that is slow to wait().
    const first = new NodeProc({ nodeId: 'z1', dataDir: dir, env, wrap: (argv) => ['sh', '-c', '"$@" & exec sleep 600', 'sh', ...argv] });
    nodes.push(first);
    await first.start();
    expect((await first.put('k', 'before')).status).toBe(200);
    const pid = Number(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8').split(' ')[0]);
    expect(pid).not.toBe(first.pid);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => procState(pid) === 'Z', `process ${pid} to be a zombie`);

    const second = new NodeProc({ nodeId: 'z1', dataDir: dir, env });
    nodes.push(second);
    await second.start();
    expect(await second.get('k')).toBe('before');
    expect(procState(pid)).toBe('Z'); // still unreaped: the lock was taken over from a zombie
    expect(await second.stop()).toBe(0);
  });

  it('a lock naming a live process that did not write it (pid reused) is taken over; a live owner still refuses', async () => {
    const dir = tempDir('fleetkv-lock-');
    const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    // This test's own process is alive, but did not start at tick 1.
    fs.writeFileSync(path.join(dir, 'LOCK'), `${process.pid} ${boot} 1\n`);
    const node = new NodeProc({ nodeId: 'z2', dataDir: dir, env });
    nodes.push(node);
    await node.start();
    // While it runs, the lock is its own, and a second node on the same dir is refused.
    const again = await runCli(['start', '--data-dir', dir, '--node-id', 'z2', '--http-host', '127.0.0.1', '--http-port', '0', '--peer-host', '127.0.0.1', '--peer-port', '0'], { env });
    expect(again.stderr).toContain(`is in use by process ${node.pid}`);
    expect(again.stderr).toContain('DATA_DIR_LOCKED');
    expect(await node.stop()).toBe(0);
  });
});
