import { describe, expect, it } from 'vitest';
import { MqttAuth } from '../../src/mqtt/auth.js';
import { hashPassword, parseHash, verifyPassword } from '../../src/mqtt/password.js';
import { filterWithin, statusKeyNode, topicMatches, Topics } from '../../src/mqtt/topics.js';

describe('topic mapping', () => {
  const t = new Topics('fleet');

  it('maps keys to state topics and command topics back to keys', () => {
    expect(t.state('robots/r1/pose')).toBe('fleet/state/robots/r1/pose');
    expect(t.log('r1')).toBe('fleet/log/r1');
    expect(t.command('fleet/set/robots/r1/status')).toEqual({ op: 'set', key: 'robots/r1/status' });
    expect(t.command('fleet/delete/a')).toEqual({ op: 'delete', key: 'a' });
    expect(t.command('fleet/settings/a')).toBeUndefined();
    expect(t.command('other/set/a')).toBeUndefined();
  });

  it('treats state, log, nodes, errors and conflicts (and below) as derived, nothing else', () => {
    for (const topic of ['fleet/state/x', 'fleet/state', 'fleet/log/r1', 'fleet/nodes/a', 'fleet/errors/c', 'fleet/conflicts']) expect(t.isDerived(topic)).toBe(true);
    for (const topic of ['fleet/stateful/x', 'fleet/set/state/x', 'fleet', 'other/state/x', 'fleet/logs']) expect(t.isDerived(topic)).toBe(false);
  });

  it('makes client ids safe as one topic level', () => {
    expect(t.errors('a/b+c#')).toBe('fleet/errors/a_b_c_');
    expect(t.errors('')).toBe('fleet/errors/_');
  });

  it('recognises status record keys', () => {
    expect(statusKeyNode('_fleetkv/nodes/r1')).toBe('r1');
    expect(statusKeyNode('robots/r1')).toBeUndefined();
  });
});

describe('topic filters', () => {
  it('matches topics like MQTT 3.1.1 §4.7', () => {
    expect(topicMatches('fleet/state/+/pose', 'fleet/state/r1/pose')).toBe(true);
    expect(topicMatches('fleet/state/+/pose', 'fleet/state/r1/x/pose')).toBe(false);
    expect(topicMatches('fleet/#', 'fleet')).toBe(true);
    expect(topicMatches('fleet/#', 'fleet/a/b')).toBe(true);
    expect(topicMatches('fleet/+', 'fleet')).toBe(false);
    expect(topicMatches('#', '$SYS/x')).toBe(false);
    expect(topicMatches('fleet/a', 'fleet/a/b')).toBe(false);
  });

  it('decides whether a subscription stays within a rule', () => {
    expect(filterWithin('fleet/state/+/pose', 'fleet/state/#')).toBe(true);
    expect(filterWithin('fleet/state/#', 'fleet/state/#')).toBe(true);
    expect(filterWithin('fleet/#', 'fleet/state/#')).toBe(false);
    expect(filterWithin('fleet/+/x', 'fleet/state/+')).toBe(false);
    expect(filterWithin('fleet/state/a/#', 'fleet/state/+')).toBe(false);
    expect(filterWithin('fleet/state/a', 'fleet/state/+')).toBe(true);
    expect(filterWithin('#', '#')).toBe(true);
  });
});

describe('passwords and ACLs', () => {
  it('hashes with scrypt and verifies only the right password', async () => {
    const h = await hashPassword('s3cret');
    expect(parseHash(h)).toBeDefined();
    expect(await verifyPassword('s3cret', h)).toBe(true);
    expect(await verifyPassword('s3cret!', h)).toBe(false);
    expect(await verifyPassword('s3cret', 'plain-text')).toBe(false);
    expect(parseHash('scrypt$3$8$1$AAAA$AAAA')).toBeUndefined(); // N not a power of two
  });

  it('authenticates users and applies read/write rules with %u and %c', async () => {
    const password = await hashPassword('pw');
    const auth = MqttAuth.fromConfig({
      enabled: true,
      usersFile: '',
      users: { dash: { password, read: ['fleet/state/#', 'fleet/errors/%c'], write: [], clientIds: ['c*'] }, robot: { password, write: ['fleet/set/robots/%u/#'] } },
    });
    expect(await auth.authenticate('dash', Buffer.from('nope'))).toBeUndefined();
    expect(await auth.authenticate('ghost', Buffer.from('pw'))).toBeUndefined();
    const dash = (await auth.authenticate('dash', Buffer.from('pw')))!;
    expect(dash.name).toBe('dash');
    expect(auth.canRead(dash, 'c1', 'fleet/state/robots/+/pose')).toBe(true);
    expect(auth.canRead(dash, 'c1', 'fleet/errors/c1')).toBe(true);
    expect(auth.canRead(dash, 'c1', 'fleet/errors/c2')).toBe(false);
    expect(auth.canRead(dash, 'c1', 'fleet/#')).toBe(false);
    expect(auth.canWrite(dash, 'c1', 'fleet/set/x')).toBe(false);
    const robot = (await auth.authenticate('robot', Buffer.from('pw')))!;
    expect(auth.canWrite(robot, 'c', 'fleet/set/robots/robot/pose')).toBe(true);
    expect(auth.canWrite(robot, 'c', 'fleet/set/robots/other/pose')).toBe(false);
    expect(auth.canRead(robot, 'c', '#')).toBe(true);
    // clientIds bind ids to users; a user without them may use any id.
    expect(auth.mayUseClientId(dash, 'c1')).toBe(true);
    expect(auth.mayUseClientId(dash, 'r1')).toBe(false);
    expect(auth.mayUseClientId(robot, 'anything')).toBe(true);
  });

  it('client id patterns: * is any characters, %u the user name, everything else literal', async () => {
    const password = await hashPassword('pw');
    const auth = MqttAuth.fromConfig({ enabled: true, usersFile: '', users: { 'r.1': { password, clientIds: ['%u', '%u-*', 'fixed(id)'] } } });
    const u = (await auth.authenticate('r.1', Buffer.from('pw')))!;
    for (const id of ['r.1', 'r.1-', 'r.1-cam/0', 'fixed(id)']) expect(auth.mayUseClientId(u, id), id).toBe(true);
    for (const id of ['rx1', 'r.1x', 'xr.1', 'fixedid', 'r.2-a', '']) expect(auth.mayUseClientId(u, id), id).toBe(false);
  });

  it('refuses %c in an ACL without clientIds (a client would choose whose rights it gets), and empty clientIds', async () => {
    const password = await hashPassword('pw');
    expect(() => MqttAuth.fromConfig({ enabled: true, usersFile: '', users: { robot: { password, write: ['fleet/set/robots/%c/#'] } } })).toThrow(/user "robot": %c in an ACL needs clientIds/);
    expect(() => MqttAuth.fromConfig({ enabled: true, usersFile: '', users: { robot: { password, clientIds: [] } } })).toThrow(/clientIds must be a non-empty list/);
  });

  it('refuses a config with a plain-text password or a bad filter', () => {
    expect(() => MqttAuth.fromConfig({ enabled: true, usersFile: '', users: { a: { password: 'hunter2' } } })).toThrow(/fleetkv passwd/);
    expect(() => MqttAuth.fromConfig({ enabled: true, usersFile: '', users: {} })).toThrow(/no users/);
    return hashPassword('pw').then((password) => {
      expect(() => MqttAuth.fromConfig({ enabled: true, usersFile: '', users: { a: { password, read: ['fleet/#/x'] } } })).toThrow(/topic filters/);
    });
  });
});
