/**
 * sd_notify through the real native addon, received on a unix datagram socket of the test's
 * own (python3 binds it: Node cannot), with the agent as a child process.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { loadNative } from '../../agent/shared/native.js';
import { runCli, writeAgentConfig, killAll } from '../helpers/agent.js';
import { startRedis, tempDir, type RedisServer } from '../helpers/servers.js';

const RECEIVER = `
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    msg = s.recv(4096).decode()
    print(msg.replace("\\n", "|"), flush=True)
`;

/** A datagram socket at `where`; `messages` fills as datagrams arrive, one string each. */
async function receiver(where: string): Promise<{ messages: string[]; child: ChildProcess }> {
  const child = spawn('python3', ['-c', RECEIVER, where], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: string[] = [];
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    child.once('error', reject);
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      buf += c;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'listening') resolve();
        else messages.push(line);
      }
    });
  });
  return { messages, child };
}

let redis: RedisServer;
let tmp: { dir: string; remove(): void };
before(async () => {
  redis = await startRedis();
  tmp = tempDir('notify');
});
after(async () => {
  killAll();
  await redis.stop();
  tmp.remove();
});

test('the addon sends one datagram; a bad socket path is an error with a code', async () => {
  const sock = path.join(tmp.dir, 'direct.sock');
  const r = await receiver(sock);
  try {
    loadNative().sdNotify(sock, 'READY=1\nSTATUS=hello');
    for (let i = 0; i < 100 && r.messages.length === 0; i++)
      await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(r.messages, ['READY=1|STATUS=hello']);
    assert.throws(
      () => loadNative().sdNotify(path.join(tmp.dir, 'nobody-listens.sock'), 'READY=1'),
      (err: Error & { code?: string }) =>
        err.code === 'ESDNOTIFY' && /nobody-listens\.sock/.test(err.message),
    );
  } finally {
    r.child.kill();
  }
});

test('the agent: READY after the first tick, watchdog keep-alives, RELOADING/READY on SIGHUP, STOPPING', async () => {
  const sock = path.join(tmp.dir, 'notify.sock');
  const r = await receiver(sock);
  try {
    const file = writeAgentConfig(tmp.dir, redis.url, '', 'notifynode');
    const agent = runCli(['run', '--config', file], {
      NOTIFY_SOCKET: sock,
      WATCHDOG_USEC: '1000000',
    });
    await agent.waitForLog('spikecap starting');
    await new Promise((res) => setTimeout(res, 2500));
    agent.child.kill('SIGHUP');
    await agent.waitForLog('config reloaded');
    await new Promise((res) => setTimeout(res, 300));
    agent.child.kill('SIGTERM');
    assert.equal((await agent.exited).code, 0);
    await new Promise((res) => setTimeout(res, 200));
    const kinds = r.messages.map((m) => m.split('|')[0]);
    assert.match(r.messages[0]!, /^READY=1\|STATUS=\d+ ticks, 0 missed; /, r.messages.join('\n'));
    assert.ok(
      r.messages.filter((m) => m.includes('WATCHDOG=1')).length >= 2,
      r.messages.join('\n'),
    );
    const reload = kinds.indexOf('RELOADING=1');
    assert.ok(reload > 0 && kinds[reload + 1] === 'READY=1', r.messages.join('\n'));
    assert.equal(kinds[kinds.length - 1], 'STOPPING=1');
  } finally {
    r.child.kill();
  }
});
