/**
 * The sampler against the tools operators already trust, on the live system: cpu.busy_pct
 * within 1 percentage point of vmstat over the same interval, mem.available_bytes within 1%
 * of free's "available".
 */
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Sampler, defaultSamplerOptions, type Sample } from '../../agent/metrics/index.js';
import { Logger } from '../../agent/shared/log.js';

const run = promisify(execFile);

function hasTool(cmd: string): boolean {
  const r = spawnSync(cmd, ['-V'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

const missing = ['vmstat', 'free'].filter((t) => !hasTool(t));
const skip = missing.length > 0 ? `procps not installed (no ${missing.join(', ')})` : false;

function liveSampler(): Sampler {
  const o = defaultSamplerOptions(new Logger({ level: 'error', sink: { write: () => true } }));
  // Only what is compared: the other families would only add time between the readings.
  for (const f of ['load', 'psi', 'net', 'disk', 'cgroup', 'thermal'] as const)
    o[f].enabled = false;
  return new Sampler(o);
}

function value(s: Sample, name: string): number {
  const i = s.series.indexOf(name);
  assert.ok(i >= 0, `no ${name}`);
  return s.values[i]!;
}

/** Spinning worker threads, so the comparison is not 0 % against 0 %. */
async function spin(n: number): Promise<Worker[]> {
  const workers = Array.from({ length: n }, () => new Worker('for (;;) {}', { eval: true }));
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('online', resolve))));
  return workers;
}

void describe('metrics agree with procps', { skip }, () => {
  void it('cpu.busy_pct is within 1 point of vmstat over the same seconds', async (t) => {
    // vmstat prints integer percentages per 1 s line; comparing over several lines keeps its
    // rounding and our few ms of lag at the two ends well inside the point allowed.
    const intervals = 8;
    const cores = availableParallelism();
    const spinners = Math.max(1, Math.min(4, Math.floor(cores / 2)));
    const workers = await spin(spinners);
    const sampler = liveSampler();
    try {
      const vm = spawn('vmstat', ['-n', '1', String(intervals + 1)], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, LC_ALL: 'C' },
      });
      const lines = createInterface({ input: vm.stdout });
      let cols: string[] = [];
      let data = 0;
      let first: Sample | undefined;
      let last: Sample | undefined;
      const vmBusy: number[] = [];
      for await (const line of lines) {
        const f = line.trim().split(/\s+/);
        if (f.includes('us') && f.includes('id')) {
          cols = f;
          continue;
        }
        if (cols.length === 0 || !/^\d/.test(f[0] ?? '')) continue;
        data++;
        // vmstat reads /proc/stat just before printing a line: ours are taken on the arrival
        // of the first and the last line, so both cover the same seconds.
        if (data === 1) {
          // The first line averages since boot: only our baseline.
          first = sampler.collect(Date.now());
          continue;
        }
        if (data === intervals + 1) last = sampler.collect(Date.now());
        const col = (name: string): number => Number(f[cols.indexOf(name)]);
        vmBusy.push(100 - col('id') - col('wa'));
      }
      assert.ok(first !== undefined && last !== undefined, 'vmstat printed its lines');
      assert.equal(vmBusy.length, intervals);
      const theirs = vmBusy.reduce((a, b) => a + b, 0) / vmBusy.length;
      const ours = value(last, 'cpu.busy_pct');
      const diag = `ours ${ours.toFixed(2)} %, vmstat ${theirs.toFixed(2)} % (lines ${vmBusy.join(' ')})`;
      t.diagnostic(diag);
      assert.ok(Math.abs(ours - theirs) <= 1, diag);
      assert.ok(ours >= (50 * spinners) / cores, `the spinning workers show: ${diag}`);
    } finally {
      sampler.close();
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });

  void it('mem.available_bytes is within 1% of free', async (t) => {
    const sampler = liveSampler();
    try {
      const before = value(sampler.collect(Date.now()), 'mem.available_bytes');
      const { stdout } = await run('free', ['-b'], { env: { ...process.env, LC_ALL: 'C' } });
      const after = value(sampler.collect(Date.now()), 'mem.available_bytes');
      const rows = stdout.split('\n').map((l) => l.trim().split(/\s+/));
      const header = rows[0]!;
      const mem = rows.find((r) => r[0] === 'Mem:');
      assert.ok(mem, stdout);
      // The header has no label for the row names, hence the +1.
      const theirs = Number(mem[header.indexOf('available') + 1]);
      assert.ok(theirs > 0, stdout);
      const lo = Math.min(before, after) - theirs * 0.01;
      const hi = Math.max(before, after) + theirs * 0.01;
      t.diagnostic(`free ${theirs}, ours ${before}..${after}`);
      assert.ok(theirs >= lo && theirs <= hi, `free ${theirs}, ours ${before}..${after}`);
    } finally {
      sampler.close();
    }
  });
});
