import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchCgroups } from '../../../agent/metrics/cgroup.js';
import { GlobSet, globToRegExp } from '../../../agent/metrics/glob.js';
import { procfsFixture } from '../../helpers/fixtures.js';

const m = (glob: string, s: string): boolean => globToRegExp(glob).test(s);

void describe('globs', () => {
  void it('`*` stays within a segment, `**` crosses it', () => {
    assert.ok(m('system.slice/*.service', 'system.slice/nginx.service'));
    assert.ok(!m('system.slice/*.service', 'system.slice/a/b.service'));
    assert.ok(m('system.slice/**.service', 'system.slice/a/b.service'));
    assert.ok(m('**/*.service', 'system.slice/nested.slice/inner.service'));
    assert.ok(m('system.slice/**/*.service', 'system.slice/nginx.service'));
    assert.ok(!m('*', 'a/b'));
    assert.ok(m('**', 'a/b'));
  });

  void it('treats dots and other regex characters literally', () => {
    assert.ok(!m('system.slice/*.service', 'systemXslice/nginx.service'));
    assert.ok(m('postgresql@15-main.service', 'postgresql@15-main.service'));
    assert.ok(m('a+b(c)', 'a+b(c)'));
  });

  void it('supports ? and character classes', () => {
    assert.ok(m('eth?', 'eth0'));
    assert.ok(!m('eth?', 'eth10'));
    assert.ok(m('eth[0-3]', 'eth2'));
    assert.ok(!m('eth[0-3]', 'eth5'));
    assert.ok(m('eth[!0-3]', 'eth5'));
    assert.ok(m('sd[ab]', 'sdb'));
  });

  void it('GlobSet matches any pattern; an empty set matches nothing', () => {
    const g = new GlobSet(['loop*', 'ram*']);
    assert.ok(g.match('loop7'));
    assert.ok(g.match('ram0'));
    assert.ok(!g.match('sda'));
    assert.ok(!new GlobSet([]).match('x'));
  });
});

void describe('matchCgroups', () => {
  const root = procfsFixture('synth-a/sys/fs/cgroup');
  const none = new GlobSet([]);

  void it('default: services directly under system.slice', () => {
    assert.deepEqual(matchCgroups(root, ['system.slice/*.service'], none), [
      'system.slice/cron.service',
      'system.slice/idle1.service',
      'system.slice/idle2.service',
      'system.slice/nginx.service',
      'system.slice/postgresql@15-main.service',
      'system.slice/redis-server.service',
      'system.slice/sshd.service',
    ]);
  });

  void it('`**` descends into nested slices; exclude applies after include', () => {
    const got = matchCgroups(
      root,
      ['**/*.service', '**/*.scope'],
      new GlobSet(['system.slice/idle*', '**/session-*']),
    );
    assert.deepEqual(got, [
      'system.slice/cron.service',
      'system.slice/docker-0123abcd.scope',
      'system.slice/nested.slice/inner.service',
      'system.slice/nginx.service',
      'system.slice/postgresql@15-main.service',
      'system.slice/redis-server.service',
      'system.slice/sshd.service',
    ]);
  });

  void it('literal paths and missing directories', () => {
    assert.deepEqual(matchCgroups(root, ['system.slice/nginx.service', 'nope/*.service'], none), [
      'system.slice/nginx.service',
    ]);
    assert.deepEqual(matchCgroups(`${root}/does-not-exist`, ['*'], none), []);
  });
});
