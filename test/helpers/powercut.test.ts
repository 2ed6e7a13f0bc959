import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fsyncDir } from '../../src/log/files.js';
import { PowerCutFs, powerCutUnavailable } from './powercut.js';
import { waitFor } from './proc.js';

function fsyncFile(file: string, data = false): void {
  const fd = fs.openSync(file, 'r+');
  try {
    if (data) fs.fdatasyncSync(fd);
    else fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Write a file and make it and its name durable. */
function durable(file: string, text: string): void {
  fs.writeFileSync(file, text);
  fsyncFile(file);
  fsyncDir(path.dirname(file));
}

if (powerCutUnavailable) console.warn(`power-cut file system tests skipped: ${powerCutUnavailable}`);

describe.skipIf(powerCutUnavailable !== undefined)(`power-cut file system${powerCutUnavailable ? ` (skipped: ${powerCutUnavailable})` : ''}`, () => {
  const pfs = new PowerCutFs();
  let n = 0;
  let dir = '';
  beforeAll(async () => {
    await pfs.start();
  });
  afterAll(async () => {
    await pfs.stop();
    expect(fs.existsSync(pfs.dir), 'mount point removed').toBe(false);
  });
  const fresh = (): string => (dir = pfs.mkdir(`t${n++}`));
  const f = (name: string): string => path.join(dir, name);

  it('a write without fsync is gone after the cut; reads before it see the write', () => {
    fresh();
    durable(f('a'), 'synced');
    fs.appendFileSync(f('a'), '+unsynced');
    expect(fs.readFileSync(f('a'), 'utf8')).toBe('synced+unsynced');
    expect(pfs.status().dirtyFiles).toBe(1);
    pfs.cut();
    expect(fs.readFileSync(f('a'), 'utf8')).toBe('synced');
  });

  it('a fsynced (or fdatasynced) write stays', () => {
    fresh();
    durable(f('a'), 'one');
    durable(f('b'), 'two');
    fs.appendFileSync(f('a'), '+kept');
    fsyncFile(f('a'));
    fs.appendFileSync(f('b'), '+kept');
    fsyncFile(f('b'), true);
    pfs.cut();
    expect(fs.readFileSync(f('a'), 'utf8')).toBe('one+kept');
    expect(fs.readFileSync(f('b'), 'utf8')).toBe('two+kept');
  });

  it('an overwrite in the middle and a truncate revert to the synced bytes; a synced truncate stays', () => {
    fresh();
    durable(f('a'), '0123456789');
    const fd = fs.openSync(f('a'), 'r+');
    fs.writeSync(fd, 'XY', 3);
    fs.ftruncateSync(fd, 5);
    fs.writeSync(fd, 'abcdefgh', 8); // past the end: a hole, then new bytes
    fs.closeSync(fd);
    expect(fs.readFileSync(f('a'), 'latin1')).toBe('012XY\0\0\0abcdefgh');
    pfs.cut();
    expect(fs.readFileSync(f('a'), 'utf8')).toBe('0123456789');
    // A torn-tail repair: cut the tail, fsync; it must survive.
    fs.truncateSync(f('a'), 4);
    fsyncFile(f('a'));
    pfs.cut();
    expect(fs.readFileSync(f('a'), 'utf8')).toBe('0123');
  });

  it('a create without a directory fsync vanishes, even with its data fsynced; with it, it stays', () => {
    fresh();
    const fd = fs.openSync(f('new'), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o640);
    fs.writeSync(fd, 'data');
    fs.fdatasyncSync(fd);
    fs.closeSync(fd);
    expect(() => fs.openSync(f('new'), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL)).toThrow(/EEXIST/);
    pfs.cut();
    expect(fs.existsSync(f('new'))).toBe(false);
    durable(f('new'), 'data');
    pfs.cut();
    expect(fs.readFileSync(f('new'), 'utf8')).toBe('data');
  });

  it('a rename without a directory fsync is undone; with it, it stays', () => {
    fresh();
    durable(f('node.json'), 'old');
    fs.writeFileSync(f('node.json.tmp'), 'new');
    fsyncFile(f('node.json.tmp'));
    fs.renameSync(f('node.json.tmp'), f('node.json'));
    expect(fs.readFileSync(f('node.json'), 'utf8')).toBe('new');
    expect(pfs.status().unsyncedDirs).toBeGreaterThan(0);
    pfs.cut();
    expect(fs.readFileSync(f('node.json'), 'utf8')).toBe('old');
    expect(fs.existsSync(f('node.json.tmp'))).toBe(false); // its create was never durable either
    fs.writeFileSync(f('node.json.tmp'), 'new');
    fsyncFile(f('node.json.tmp'));
    fs.renameSync(f('node.json.tmp'), f('node.json'));
    fsyncDir(dir);
    pfs.cut();
    expect(fs.readFileSync(f('node.json'), 'utf8')).toBe('new');
    expect(fs.readdirSync(dir)).toEqual(['node.json']);
  });

  it('a rename whose file data was never synced: the name is durable, the bytes are not', () => {
    fresh();
    fs.writeFileSync(f('peers.json.tmp'), '{"peers":{}}');
    fs.renameSync(f('peers.json.tmp'), f('peers.json'));
    fsyncDir(dir);
    pfs.cut();
    expect(fs.readFileSync(f('peers.json'), 'utf8')).toBe('');
  });

  it('an unlink without a directory fsync comes back with its synced contents; with it, it stays gone', () => {
    fresh();
    durable(f('seg'), 'records');
    fs.appendFileSync(f('seg'), '+unsynced');
    fs.rmSync(f('seg'));
    expect(fs.existsSync(f('seg'))).toBe(false);
    pfs.cut();
    expect(fs.readFileSync(f('seg'), 'utf8')).toBe('records');
    fs.rmSync(f('seg'));
    fsyncDir(dir);
    pfs.cut();
    expect(fs.existsSync(f('seg'))).toBe(false);
  });

  it('unsynced directories: a new subdirectory vanishes with everything in it', () => {
    fresh();
    fs.mkdirSync(f('sub'));
    durable(path.join(f('sub'), 'x'), 'x'); // x is durable in sub, but sub's own name is not
    pfs.cut();
    expect(fs.existsSync(f('sub'))).toBe(false);
  });

  it('freeze: a writer blocks at its next disk access; killed and cut, its write never lands', async () => {
    fresh();
    durable(f('a'), 'before');
    pfs.freeze();
    const child = spawn('/usr/bin/python3', ['-c', `open(${JSON.stringify(f('a'))}, 'a').write('+frozen')`], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, sig) => r(sig)));
    await waitFor(() => pfs.status().frozen, 'the freeze');
    let done = false;
    void exited.then(() => (done = true));
    await waitFor(() => pfs.status().blocked > 0, "the writer's request held by the frozen disk");
    expect(done, 'a writer on a frozen disk does not finish').toBe(false);
    child.kill('SIGKILL'); // it dies once the blocked request is answered: by the cut
    pfs.cut();
    expect(await exited).toBe('SIGKILL');
    expect(fs.readFileSync(f('a'), 'utf8')).toBe('before');
  });

  it('freeze-after rename: the rename happens, the directory fsync after it blocks; cut, it is undone', async () => {
    fresh();
    durable(f('node.json'), 'old');
    pfs.freezeOn('after', 'rename', /node\.json\.tmp$/);
    const script = [
      'import os',
      `d = ${JSON.stringify(dir)}`,
      "open(d + '/node.json.tmp', 'w').write('new')",
      "fd = os.open(d + '/node.json.tmp', os.O_RDONLY); os.fsync(fd); os.close(fd)",
      "os.rename(d + '/node.json.tmp', d + '/node.json')",
      'fd = os.open(d, os.O_RDONLY); os.fsync(fd)',
    ].join('\n');
    const child = spawn('/usr/bin/python3', ['-c', script], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, sig) => r(sig)));
    await waitFor(() => pfs.status().blocked > 0, 'the directory fsync to block');
    const st = pfs.status();
    expect(st.frozen && !st.armed).toBe(true);
    child.kill('SIGKILL');
    pfs.cut();
    expect(await exited).toBe('SIGKILL');
    expect(fs.readFileSync(f('node.json'), 'utf8')).toBe('old');
  });
});
