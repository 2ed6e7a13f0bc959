import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeProc, ROOT, runCli, tempDir } from '../helpers/proc.js';

const FIXTURES = path.join(ROOT, 'test/ops/fixtures');

/** A private copy of a fixture data dir (a node writes to its data dir). */
function copyFixture(name: string): string {
  const dir = path.join(tempDir(), name);
  fs.cpSync(path.join(FIXTURES, name), dir, { recursive: true });
  return dir;
}

describe('data dirs of other releases', () => {
  const nodes: NodeProc[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop();
  });

  it('a data dir written by 0.1.0 starts and serves its keys (upgrades keep data)', async () => {
    const dir = copyFixture('datadir-0.1.0');
    const node = await new NodeProc({ nodeId: 'fixture-1', dataDir: dir, env: { FLEETKV_MQTT_ENABLED: 'false' } }).start();
    nodes.push(node);
    expect(await node.get('robots/r1/pose')).toBe('{"x":1.5,"y":2}');
    expect(await node.get('robots/r1/status')).toBe('idle');
    expect(await node.get('missions/m-1')).toBe('{"state":"done"}');
    expect(await node.get('tmp/gone')).toBeUndefined();
    expect(Buffer.from(await (await node.fetch('/v1/kv/blobs/bin')).arrayBuffer())).toEqual(Buffer.from([0, 1, 0xff]));
    // A clean stop under fsync=batch keeps the incarnation; new writes continue its stream without reusing a seq.
    const s = await node.status();
    expect(Object.keys(s.vector)).toEqual(['fixture-1:1']);
    expect(s.vector['fixture-1:1']).toBeGreaterThanOrEqual(6);
    expect(((await (await node.put('robots/r1/status', 'moving')).json()) as { seq: number }).seq).toBeGreaterThan(6);
  });

  for (const [name, format, nodeId] of [
    ['datadir-format0', '0', 'old-1'],
    ['datadir-format9', '9', 'future-1'],
  ] as const) {
    it(`a data dir of format ${format} gets a clear message and exit 1, not a crash, and is left as it was`, async () => {
      const dir = copyFixture(name);
      const before = fs.readFileSync(path.join(dir, 'node.json'));
      const r = await runCli(['start', '--node-id', nodeId, '--data-dir', dir, '--http-port', '0', '--peer-port', '0', '--mqtt-port', '0', '--http-host', '127.0.0.1']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`node.json has format ${format}; this fleetkv reads format 1 (see docs/operating.md, "Upgrades")`);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(fs.readFileSync(path.join(dir, 'node.json'))).toEqual(before);
      expect(fs.readdirSync(dir).sort()).toEqual(['node.json']);

      // Restoring a (good) snapshot over it is refused just as clearly.
      const restore = await runCli(['restore', path.join(FIXTURES, 'snapshot-0.1.0.snap'), '--node-id', nodeId, '--data-dir', dir]);
      expect(restore.code).toBe(1);
      expect(restore.stderr).toContain(`node.json has format ${format}; this fleetkv reads format 1`);
      expect(fs.readdirSync(dir).sort()).toEqual(['node.json']);
    });
  }
});
