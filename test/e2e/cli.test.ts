/** The spikecap command as an operator uses it: help, config, and reading stored series back. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCli, runCliToEnd, writeAgentConfig, killAll } from '../helpers/agent.js';
import { startRedis, tempDir, type RedisServer } from '../helpers/servers.js';

let redis: RedisServer;
let tmp: { dir: string; remove(): void };
let file: string;

before(async () => {
  redis = await startRedis();
  tmp = tempDir('cli');
  file = writeAgentConfig(tmp.dir, redis.url, '', 'clinode');
  const agent = runCli(['run', '--config', file]);
  await agent.waitForLog('spikecap starting');
  await new Promise((r) => setTimeout(r, 3500));
  agent.child.kill('SIGTERM');
  await agent.exited;
});

after(async () => {
  killAll();
  await redis.stop();
  tmp.remove();
});

test('--help lists the commands and exits 0; an unknown command exits 2', async () => {
  const help = await runCliToEnd(['--help']);
  assert.equal(help.code, 0);
  for (const cmd of ['run', 'config check', 'config print', 'metrics query'])
    assert.ok(help.stdout.includes(cmd), cmd);
  const bad = await runCliToEnd(['frobnicate']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown command "frobnicate"/);
});

test('config print shows the effective config, environment included', async () => {
  const r = await runCliToEnd(['config', 'print', '--json', '--config', file], {
    SPIKECAP_SAMPLER__CGROUP__TOP_N: '7',
  });
  assert.equal(r.code, 0);
  const cfg = JSON.parse(r.stdout) as {
    sampler: { cgroup: { top_n: number } };
    node: { name: string };
  };
  assert.equal(cfg.sampler.cgroup.top_n, 7);
  assert.equal(cfg.node.name, 'clinode');
  const check = await runCliToEnd(['config', 'check', '--json', file]);
  assert.deepEqual(JSON.parse(check.stdout), { valid: true, file, problems: [] });
});

test('metrics list and query read the stored series back, as a table, JSON or trace CSV', async () => {
  const list = await runCliToEnd([
    'metrics',
    'list',
    '--json',
    '--series',
    'mem.*',
    '--config',
    file,
  ]);
  assert.equal(list.code, 0, list.stderr);
  const names = (JSON.parse(list.stdout) as { name: string; unit: string }[]).map((s) => s.name);
  assert.ok(names.includes('mem.available_bytes'));
  assert.ok(names.every((n) => n.startsWith('mem.')));

  const csv = await runCliToEnd([
    'metrics',
    'query',
    '--series',
    'mem.available_bytes,mem.total_bytes',
    '--from',
    '-5m',
    '--csv',
    '--config',
    file,
  ]);
  assert.equal(csv.code, 0, csv.stderr);
  const [header, ...rows] = csv.stdout.trim().split('\n');
  assert.equal(header, 'timestamp,mem.available_bytes,mem.total_bytes');
  assert.ok(rows.length >= 2, `rows: ${rows.length}`);
  for (const row of rows) {
    const [ts, avail, total] = row.split(',').map(Number);
    assert.equal(ts! % 1, 0, 'whole unix seconds');
    assert.ok(avail! > 0 && avail! <= total!);
  }

  const json = await runCliToEnd([
    'metrics',
    'query',
    '--series',
    'mem.available_bytes',
    '--from',
    '-5m',
    '--json',
    '--config',
    file,
  ]);
  const parsed = JSON.parse(json.stdout) as {
    tier: string;
    series: Record<string, { ts: number; value: number }[]>;
  };
  assert.equal(parsed.tier, 'raw');
  assert.equal(parsed.series['mem.available_bytes']!.length, rows.length);
});

test('query mistakes exit 2 and say what was wrong', async () => {
  const unknown = await runCliToEnd(['metrics', 'query', '--series', 'mem.nope', '--config', file]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no such series: mem\.nope/);
  const badTime = await runCliToEnd([
    'metrics',
    'query',
    '--series',
    'mem.total_bytes',
    '--from',
    'yesterday-ish',
    '--config',
    file,
  ]);
  assert.equal(badTime.code, 2);
  assert.match(
    badTime.stderr,
    /--from: expected now, -15m style offset, unix seconds or ISO time, got "yesterday-ish"/,
  );
  const badTier = await runCliToEnd([
    'metrics',
    'query',
    '--series',
    'mem.total_bytes',
    '--tier',
    '2m',
    '--config',
    file,
  ]);
  assert.equal(badTier.code, 2);
  assert.match(badTier.stderr, /--tier: expected one of raw, 10s, 1m, 5m, got "2m"/);
});
