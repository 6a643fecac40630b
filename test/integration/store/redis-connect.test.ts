/** connectRedis against a real server: unix socket, database index, ACL user and password. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { connectOnce, connectRedis, redactUrl } from '../../../agent/store/index.js';
import { startRedis, tempDir } from '../../helpers/servers.js';

const timeouts = { connectTimeoutMs: 1000, commandTimeoutMs: 1000, failFast: true };

/** A client for `url`, with the rest of the Redis config at test values. */
function client(url: string, extra: { username?: string; password?: string } = {}) {
  return connectRedis(
    { url, key_prefix: 'x', connect_timeout: '1s', command_timeout: '1s', ...extra },
    timeouts,
  );
}

test('unix socket with a database index and an ACL user', async () => {
  const tmp = tempDir('sock');
  const sock = path.join(tmp.dir, 'redis.sock');
  const server = await startRedis({
    args: [
      '--unixsocket',
      sock,
      '--unixsocketperm',
      '700',
      '--user',
      'agent',
      'on',
      '>s3cret',
      '~*',
      '&*',
      '+@all',
      '--user',
      'default',
      'off',
    ],
  });
  try {
    const r = client(`unix://${sock}?db=2`, { username: 'agent', password: 's3cret' });
    await r.connect();
    await r.set('k', 'v');
    assert.equal(await r.client('INFO').then((i) => /db=2/.test(String(i))), true);
    assert.equal(await r.acl('WHOAMI'), 'agent');
    r.disconnect();

    const wrong = client(`redis://agent:wrong@127.0.0.1:${server.port}/0`);
    await assert.rejects(
      connectOnce(wrong, `redis://agent:wrong@127.0.0.1:${server.port}/0`),
      (err: Error) => {
        assert.match(
          err.message,
          /^cannot reach Redis at redis:\/\/agent:\*\*\*@127\.0\.0\.1:\d+\/0: WRONGPASS/,
        );
        return true;
      },
    );

    const fromUrl = client(`redis://agent:s3cret@127.0.0.1:${server.port}/3`);
    await fromUrl.connect();
    assert.equal(await fromUrl.acl('WHOAMI'), 'agent');
    assert.match(String(await fromUrl.client('INFO')), /db=3/);
    fromUrl.disconnect();
  } finally {
    await server.stop();
    tmp.remove();
  }
});

test('passwords never reach logs', () => {
  assert.equal(
    redactUrl('redis://agent:s3cret@10.0.0.1:6379/0'),
    'redis://agent:***@10.0.0.1:6379/0',
  );
  assert.equal(redactUrl('unix:///run/redis.sock?db=1'), 'unix:///run/redis.sock?db=1');
});
