import { describe, expect, it } from 'vitest';
import { encodeEntry, OP_PUT } from '../../src/entry/entry.js';
import { isFleetError } from '../../src/errors.js';
import { mergeRobots, parseField, parseRobotKey, validateField, validateRobotId } from '../../src/robots/model.js';

let seq = 0;
function entry(key: string, value: string, origin = 'n1', wall = 1_700_000_000_000 + seq) {
  return encodeEntry({ origin, inc: 1, seq: ++seq, wall, logical: 0, op: OP_PUT, key, value: Buffer.from(value) });
}

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return isFleetError(err) ? err.code : 'not a FleetError';
  }
  return undefined;
}

describe('robot model', () => {
  it('names the five fields of robots/<id>/ and nothing else', () => {
    expect(parseRobotKey('robots/r1/pose')).toEqual(['r1', 'pose']);
    expect(parseRobotKey('robots/r1/issues')).toEqual(['r1', 'issues']);
    expect(parseRobotKey('robots/r1/camera')).toBeUndefined();
    expect(parseRobotKey('robots/r1/pose/extra')).toBeUndefined();
    expect(parseRobotKey('robots//pose')).toBeUndefined();
    expect(parseRobotKey('missions/m1')).toBeUndefined();
  });

  it.each([
    ['pose', { x: 1, y: 2, yaw: 0.5, map: 'L1' }],
    ['status', 'charging'],
    ['battery', 0],
    ['battery', 1],
    ['mission', null],
    ['mission', { id: 'm-1', goal: { x: 1, y: 1 } }],
    ['issues', []],
    ['issues', [{ category: 'lidar', detail: 'dirty' }]],
  ] as const)('accepts %s %j', (field, doc) => {
    expect(validateField(field, doc)).toEqual(doc);
  });

  it.each([
    ['pose', { x: 1, y: 2, yaw: 0.5 }],
    ['pose', { x: '1', y: 2, yaw: 0, map: 'L1' }],
    ['pose', { x: 1, y: 2, yaw: null, map: 'L1' }],
    ['pose', [1, 2, 3]],
    ['status', 'flying'],
    ['status', 3],
    ['battery', 1.5],
    ['battery', -0.1],
    ['battery', 87],
    ['mission', { goal: 1 }],
    ['mission', 'm-1'],
    ['issues', [{ detail: 'no category' }]],
    ['issues', 'broken'],
  ] as const)('refuses %s %j with ROBOT_DOC_INVALID', (field, doc) => {
    expect(code(() => validateField(field, doc))).toBe('ROBOT_DOC_INVALID');
  });

  it('reads JSON documents, and a bare status word as typed by hand', () => {
    expect(parseField('status', 'k', Buffer.from('"idle"'))).toBe('idle');
    expect(parseField('status', 'k', Buffer.from('idle\n'))).toBe('idle');
    expect(code(() => parseField('pose', 'k', Buffer.from('{"x":1')))).toBe('ROBOT_DOC_INVALID');
    expect(code(() => parseField('status', 'k', Buffer.from('not a word!')))).toBe('ROBOT_DOC_INVALID');
  });

  it('robot ids are one key level', () => {
    expect(validateRobotId('robot-1')).toBe('robot-1');
    expect(code(() => validateRobotId('a/b'))).toBe('KEY_INVALID');
    expect(code(() => validateRobotId(''))).toBe('KEY_INVALID');
    expect(code(() => validateRobotId('a+b'))).toBe('KEY_INVALID');
  });

  it('merges one document per robot; a malformed field is null with a problem, the rest still shows', () => {
    const entries = [
      entry('robots/r1/battery', '0.5', 'n1', 1000),
      entry('robots/r1/pose', '{"x":1,"y":2,"yaw":0,"map":"L1"}', 'n1', 3000),
      entry('robots/r1/status', 'moving', 'n1', 2000),
      entry('robots/r2/pose', '{"x":"far"}', 'n2', 5000),
      entry('robots/r2/status', '"error"', 'n2', 4000),
      entry('robots/r2/camera', 'whatever', 'n2', 9000),
    ];
    const robots = mergeRobots(entries, (id) => id === 'n1');
    expect(robots).toEqual([
      { id: 'r1', pose: { x: 1, y: 2, yaw: 0, map: 'L1' }, status: 'moving', battery: 0.5, mission: null, issues: [], lastSeen: new Date(3000).toISOString(), node: 'n1', online: true, problems: [] },
      {
        id: 'r2',
        pose: null,
        status: 'error',
        battery: null,
        mission: null,
        issues: [],
        lastSeen: new Date(5000).toISOString(),
        node: 'n2',
        online: false,
        problems: [{ key: 'robots/r2/pose', code: 'ROBOT_DOC_INVALID', message: expect.stringContaining('pose.x must be a finite number') }],
      },
    ]);
  });
});
