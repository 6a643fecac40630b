import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  ConfigError,
  loadConfig,
  redactConfig,
  restartKeysChanged,
} from '../../../agent/config/index.js';
import { tempDir } from '../../helpers/servers.js';

function withFile(text: string, fn: (file: string) => void): void {
  const tmp = tempDir('config');
  try {
    const file = path.join(tmp.dir, 'spikecap.yaml');
    writeFileSync(file, text);
    fn(file);
  } finally {
    tmp.remove();
  }
}

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  let out: string[] = [];
  withFile(text, (file) => {
    try {
      loadConfig({ file, env });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      out = err.problems;
    }
  });
  return out;
}

test('an empty file gives the documented defaults', () => {
  withFile('', (file) => {
    const { config, resolved } = loadConfig({ file, env: {} });
    assert.equal(config.redis.url, 'redis://127.0.0.1:6379/0');
    assert.equal(config.sampler.interval, '1s');
    assert.equal(resolved.tickMs, 1000);
    assert.equal(resolved.rawRetentionMs, 3_600_000);
    assert.deepEqual(
      resolved.tiers.map((t) => [t.name, t.stepMs, t.retentionMs]),
      [
        ['10s', 10_000, 86_400_000],
        ['1m', 60_000, 8 * 86_400_000],
        ['5m', 300_000, 35 * 86_400_000],
      ],
    );
    assert.equal(config.sampler.cgroup.top_n, 50);
    assert.deepEqual(config.sampler.cgroup.include, ['system.slice/*.service']);
    assert.equal(resolved.spoolDir, '/var/lib/spikecap/spool');
  });
});

test('every problem is reported with its path and what was expected', () => {
  const p = problems(`
redis:
  url: localhost:6379
  urll: x
sampler:
  interval: fast
  cgroup: { top_n: "many" }
log: { level: verbose }
`);
  assert.ok(
    p.includes('redis.url: expected redis://, rediss:// or unix:// URL, got "localhost:6379"'),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) => l.startsWith('redis.urll: unknown key (did you mean "url"?)')),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) => l.startsWith('sampler.interval: expected a duration')),
    p.join('\n'),
  );
  assert.ok(p.includes('sampler.cgroup.top_n: expected integer, got "many"'), p.join('\n'));
  assert.ok(
    p.includes('log.level: expected one of debug, info, warn, error, got "verbose"'),
    p.join('\n'),
  );
  assert.equal(p.length, 5, p.join('\n'));
});

test('rules beyond the schema: tier steps, retention, interval', () => {
  const p = problems(`
sampler: { interval: 7s }
store:
  raw_retention: 20s
  rollups:
    - { step: 10s, retention: 5s }
    - { step: 15s, retention: 1d }
`);
  assert.ok(
    p.some((l) => l.startsWith('sampler.interval: expected at least 100ms and a divisor of 1m')),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) => l.startsWith('store.rollups[0].retention: expected at least the step')),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) => l.startsWith('store.rollups[1].step: expected a multiple of the previous tier')),
    p.join('\n'),
  );
  assert.ok(
    p.some((l) =>
      l.startsWith('store.raw_retention: expected at least twice the largest rollup step'),
    ),
    p.join('\n'),
  );
});

test('YAML syntax errors name the line', () => {
  const p = problems('redis:\n  url: [unclosed\n');
  assert.equal(p.length, 1);
  assert.match(p[0]!, /^line \d+, column \d+: /);
});

test('environment overrides use __ between levels and are validated like the file', () => {
  withFile('redis: { url: "redis://127.0.0.1:6379/0" }\n', (file) => {
    const { config, envOverrides } = loadConfig({
      file,
      env: {
        SPIKECAP_REDIS__URL: 'redis://10.0.0.1:6380/2',
        SPIKECAP_STORE__SPOOL__MAX_BYTES: '1048576',
        SPIKECAP_SAMPLER__NET__EXCLUDE: '[docker*, veth*]',
      },
    });
    assert.equal(config.redis.url, 'redis://10.0.0.1:6380/2');
    assert.equal(config.store.spool.max_bytes, 1_048_576);
    assert.deepEqual(config.sampler.net.exclude, ['docker*', 'veth*']);
    assert.deepEqual(envOverrides.map((o) => o.path).sort(), [
      'redis.url',
      'sampler.net.exclude',
      'store.spool.max_bytes',
    ]);
  });
  const p = problems('', { SPIKECAP_REDIS__URLL: 'x' });
  assert.ok(
    p.some((l) => l.startsWith('redis.urll: unknown key')),
    p.join('\n'),
  );
});

test('a missing explicit file is an error, not silent defaults', () => {
  assert.throws(
    () => loadConfig({ file: '/nonexistent/spikecap.yaml', env: {} }),
    /file not found/,
  );
});

test('keys that need a restart are named when they change', () => {
  withFile('', (file) => {
    const a = loadConfig({ file, env: {} }).config;
    const b = loadConfig({
      file,
      env: {
        SPIKECAP_REDIS__URL: 'redis://127.0.0.1:7000',
        SPIKECAP_LOG__LEVEL: 'debug',
        SPIKECAP_SAMPLER__INTERVAL: '2s',
      },
    }).config;
    assert.deepEqual(restartKeysChanged(a, b).sort(), ['redis.url', 'sampler.interval']);
  });
});

test('string keys from the environment are taken as they are; secrets stay out of messages and prints', () => {
  withFile('', (file) => {
    const { config } = loadConfig({
      file,
      env: { SPIKECAP_REDIS__PASSWORD: '123456', SPIKECAP_NODE__NAME: '0x1F' },
    });
    assert.equal(config.redis.password, '123456');
    assert.equal(config.node.name, '0x1F');
    const printed = redactConfig(config);
    assert.equal(printed.redis.password, '***');
    assert.equal(config.redis.password, '123456', 'the running config is untouched');
    assert.equal(
      redactConfig({ ...config, redis: { ...config.redis, url: 'redis://u:pw@h:1/0' } }).redis.url,
      'redis://u:***@h:1/0',
    );
  });
  const p = problems('redis: { password: [1, 2] }\n');
  assert.deepEqual(p, ['redis.password: expected string, got a value (hidden)']);
});

test('what the connection would reject is caught by the check, with its path', () => {
  const p = problems(`
redis:
  url: "redis://127.0.0.1:6379/99"
  command_timeout: 0s
  tls: { ca: ./missing-ca.pem }
`);
  assert.ok(
    p.includes('redis.url: expected a database index 0 to 15 after the host, got "/99"'),
    p.join('\n'),
  );
  assert.ok(p.includes('redis.command_timeout: must be greater than zero'), p.join('\n'));
  assert.ok(p.includes('redis.tls: set, but redis.url is not a rediss:// URL'), p.join('\n'));
  assert.ok(
    p.some((l) => l.startsWith('redis.tls.ca: file not found: ')),
    p.join('\n'),
  );
  const bad = problems('redis: { url: "redis://u:secret@127.0.0.1:abc/0" }\n');
  assert.deepEqual(bad, ['redis.url: not a valid URL: "redis://u:***@127.0.0.1:abc/0"']);
});

test('backends: the default order follows serial_port; rules the selector needs are checked', () => {
  withFile('', (file) => {
    const { resolved } = loadConfig({ file, env: {} });
    assert.deepEqual(resolved.backendOrder, ['native', 'onnx']);
    assert.equal(resolved.healthyProbes, 3);
    assert.equal(resolved.stepTimeoutMs, 500);
    assert.equal(resolved.onnxThreads, 1);
  });
  withFile('backends: { serial_port: /dev/ttyACM0 }\n', (file) => {
    assert.deepEqual(loadConfig({ file, env: {} }).resolved.backendOrder, [
      'serial',
      'native',
      'onnx',
    ]);
  });
  const p = problems(`
backends:
  order: [serial, onnx, onnx, tpu]
  step_timeout: 2s
`);
  const has = (prefix: string) =>
    assert.ok(
      p.some((l) => l.startsWith(prefix)),
      p.join('\n'),
    );
  has('backends.order[3]');
  has('backends.order');
  const q = problems('backends: { order: [serial], step_timeout: 1s }\n');
  assert.ok(
    q.some((l) => l.startsWith('backends.order: "serial" needs backends.serial_port')),
    q.join('\n'),
  );
  assert.ok(
    q.some((l) => l.startsWith('backends.step_timeout: 1s leaves no time')),
    q.join('\n'),
  );
});
