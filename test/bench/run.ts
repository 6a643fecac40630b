/**
 * `npm run bench`: the numbers issue #2 asks for, measured on this machine.
 *   1. The agent at 1 Hz with every family on, next to prometheus-node-exporter scraped once
 *      a second over loopback, in the same run: CPU (% of one core) and RSS.
 *   2. 10,000 series at 1 Hz from a synthetic tree with ~900 cgroups: the agent's CPU, and the
 *      Redis round trip of each tick's write (p50, p99).
 *   3. Redis memory per series with the default tiers, and for a node with 500 series.
 *   4. The reservoir (issue #3): µs per input sample per backend at 256, 512, 1024 neurons.
 *   5. The serial link (issue #4): STEP and upload over a pty next to raw exchanges.
 *   6. Failover (issue #5): the call whose serial step fails, and ONNX session creation.
 * BENCH_SECONDS (default 60) sets the length of 1 and 2. `npm run bench -- reservoir` runs one part.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Redis } from 'ioredis';
import { runCli, writeAgentConfig, type AgentProcess } from '../helpers/agent.js';
import { advanceFixtureCounters, makeCgroupFixtureTree } from '../helpers/fixtures.js';
import { freePort, startRedis, tempDir } from '../helpers/servers.js';
import { measureRedisMemory } from './redis-memory.js';
import { benchReservoir } from './reservoir.js';
import { benchFailover } from './failover.js';
import { benchSerial } from './serial.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const CLK_TCK = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Usage {
  cpuPct: number;
  rssMaxMb: number;
  rssMeanMb: number;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** Samples a process's CPU time and RSS once a second for `seconds`. */
async function watch(
  pids: number[],
  seconds: number,
  each?: () => Promise<void>,
): Promise<Usage[]> {
  const t0 = performance.now();
  const c0 = pids.map(cpuTicks);
  const rss: number[][] = pids.map(() => []);
  for (let s = 0; s < seconds; s++) {
    await sleep(1000 - ((performance.now() - t0) % 1000));
    if (each) await each();
    pids.forEach((p, i) => rss[i]!.push(rssKb(p)));
  }
  const wall = (performance.now() - t0) / 1000;
  return pids.map((p, i) => ({
    cpuPct: ((cpuTicks(p) - c0[i]!) / CLK_TCK / wall) * 100,
    rssMaxMb: Math.max(...rss[i]!) / 1024,
    rssMeanMb: rss[i]!.reduce((a, b) => a + b, 0) / rss[i]!.length / 1024,
  }));
}

function ensureNodeExporter(): string | undefined {
  const bin = '/usr/bin/prometheus-node-exporter';
  if (existsSync(bin)) return bin;
  if (process.getuid?.() !== 0) return undefined;
  console.error('[bench] installing prometheus-node-exporter from Debian');
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
  spawnSync(
    'apt-get',
    ['install', '-y', '-qq', '--no-install-recommends', 'prometheus-node-exporter'],
    {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    },
  );
  // The package starts its own service on :9100; only ours, on a private port, is measured.
  spawnSync('sh', ['-c', 'pkill -x prometheus-node-exporter || true']);
  return existsSync(bin) ? bin : undefined;
}

function scrape(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => resolve(n));
      })
      .on('error', reject);
  });
}

async function stopAgent(agent: AgentProcess): Promise<Record<string, unknown>> {
  agent.child.kill('SIGTERM');
  await agent.exited;
  return agent.waitForLog('stopped', 1000);
}

const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

async function benchVsNodeExporter(): Promise<void> {
  const redis = await startRedis();
  const tmp = tempDir('bench');
  let exporter: ChildProcess | undefined;
  try {
    const file = writeAgentConfig(tmp.dir, redis.url);
    const agent = runCli(['run', '--config', file]);
    await agent.waitForLog('spikecap starting');
    const bin = ensureNodeExporter();
    let port = 0;
    if (bin) {
      port = await freePort();
      exporter = spawn(bin, [`--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
      await sleep(1500);
    }
    await sleep(3000); // past start-up work
    const pids = [agent.child.pid!, ...(exporter ? [exporter.pid!] : [])];
    let scrapeBytes = 0;
    const usage = await watch(pids, SECONDS, async () => {
      if (port) scrapeBytes = await scrape(port);
    });
    const stopped = await stopAgent(agent);
    const c = new Redis(redis.port);
    const series = await c.hlen('spikecap:testnode:series');
    c.disconnect();
    console.log(
      `\n## 1. agent vs prometheus-node-exporter, ${SECONDS} s at 1 Hz, live host (${series} agent series)\n`,
    );
    console.log('| process | CPU % of one core | RSS max MB | RSS mean MB |');
    console.log('|---|---|---|---|');
    console.log(
      `| spikecap run | ${fmt(usage[0]!.cpuPct, 2)} | ${fmt(usage[0]!.rssMaxMb)} | ${fmt(usage[0]!.rssMeanMb)} |`,
    );
    if (usage[1])
      console.log(
        `| prometheus-node-exporter (scraped 1/s, ${(scrapeBytes / 1024).toFixed(0)} KiB per scrape) | ${fmt(usage[1].cpuPct, 2)} | ${fmt(usage[1].rssMaxMb)} | ${fmt(usage[1].rssMeanMb)} |`,
      );
    else console.log('| prometheus-node-exporter | not installed (needs root to apt-get it) | | |');
    if (usage[1])
      console.log(
        `\nagent CPU / node_exporter CPU = ${fmt(usage[0]!.cpuPct / usage[1].cpuPct, 2)} (goal ≤ 0.5); agent RSS max ${fmt(usage[0]!.rssMaxMb)} MB (goal ≤ 80)`,
      );
    console.log(
      `ticks ${String(stopped.ticks)}, missed ${String(stopped.missed_ticks)}, tick lag ms ${JSON.stringify(stopped.tick_lag_ms)}`,
    );
  } finally {
    exporter?.kill('SIGKILL');
    await redis.stop();
    tmp.remove();
  }
}

async function bench10k(): Promise<void> {
  const redis = await startRedis();
  const tmp = tempDir('bench10k');
  try {
    const units = 905;
    const tree = await makeCgroupFixtureTree(path.join(tmp.dir, 'host'), units);
    const file = writeAgentConfig(
      tmp.dir,
      redis.url,
      `sampler:
  procfs: ${JSON.stringify(tree.procfs)}
  sysfs: ${JSON.stringify(tree.sysfs)}
  cgroupfs: ${JSON.stringify(tree.cgroupfs)}
  cgroup: { top_n: ${units} }
`,
    );
    const agent = runCli(['run', '--config', file], { SPIKECAP_LOG__LEVEL: 'info' });
    await agent.waitForLog('spikecap starting');
    await sleep(4000);
    const [usage] = await watch([agent.child.pid!], SECONDS, () => advanceFixtureCounters(tree));
    const stopped = await stopAgent(agent);
    const c = new Redis(redis.port);
    const series = await c.hlen('spikecap:testnode:series');
    c.disconnect();
    const w = stopped.write_ms as { p50: number; p99: number; max: number; n: number };
    console.log(`\n## 2. ${series} series at 1 Hz (${units} synthetic cgroups), ${SECONDS} s\n`);
    console.log(
      '| sampling + storing, CPU % of one core | RSS max MB | Redis write per tick p50 ms | p99 ms | max ms | ticks |',
    );
    console.log('|---|---|---|---|---|---|');
    console.log(
      `| ${fmt(usage!.cpuPct, 2)} | ${fmt(usage!.rssMaxMb)} | ${fmt(w.p50, 2)} | ${fmt(w.p99, 2)} | ${fmt(w.max, 2)} | ${w.n} |`,
    );
    console.log(`\ngoal: at most 5% of one core; missed ticks ${String(stopped.missed_ticks)}`);
  } finally {
    await redis.stop();
    tmp.remove();
  }
}

async function main(): Promise<void> {
  const only = process.argv[2];
  console.log(
    `# spikecap bench (${new Date().toISOString().slice(0, 10)}, ${(await import('node:os')).cpus().length} cores, node ${process.version})`,
  );
  if (!only || only === 'memory') await measureRedisMemory();
  if (!only || only === 'exporter') await benchVsNodeExporter();
  if (!only || only === '10k') await bench10k();
  if (!only || only === 'reservoir') await benchReservoir();
  if (!only || only === 'serial') await benchSerial();
  if (!only || only === 'failover') await benchFailover();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
