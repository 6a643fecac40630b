/** `spikecap eval`, run as the real executable on small trace files. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runCliToEnd } from '../helpers/agent.js';
import { tempDir } from '../helpers/servers.js';

let tmp: { dir: string; remove(): void };
let good: string;
let bad: string;

before(() => {
  tmp = tempDir('eval-cli');
  // 4 days at 300 s of two daily series and a covariate; a few rows missing.
  const rows = ['timestamp,cpu,mem,temp'];
  for (let t = 0; t < 4 * 288; t++) {
    if (t % 97 === 5) continue;
    const day = Math.sin((2 * Math.PI * t) / 288);
    rows.push(
      `${1_700_000_000 + 300 * t},${(20 + 10 * day + (t % 7)).toFixed(2)},${50 + (t % 3)},${30 + day}`,
    );
  }
  good = path.join(tmp.dir, 'host.csv');
  writeFileSync(good, rows.join('\n') + '\n');
  bad = path.join(tmp.dir, 'bad.csv');
  writeFileSync(bad, 'timestamp,cpu\n0,1\n300,2\n600,two\n');
});
after(() => tmp.remove());

interface Row {
  series: string;
  h: number;
  method: string;
  mase: number | null;
  coverage: number | null;
  slack: number | null;
  n: number;
}

test('--json: per-series rows and the mean rows, every method and horizon', async () => {
  const r = await runCliToEnd([
    'eval',
    good,
    '--h',
    '1,12',
    '--warmup-days',
    '1',
    '--covariates',
    'temp',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, ''); // no progress bar: stderr is not a terminal
  const out = JSON.parse(r.stdout) as { rows: Row[]; series: number; horizons: number[] };
  assert.equal(out.series, 2); // cpu and mem; temp is a covariate
  assert.deepEqual(out.horizons, [1, 12]);
  const methods = ['naive', 'seasonal_naive', 'ewma', 'ar_rls', 'vpa', 'peak_24h', 'spikecap'];
  const perSeries = out.rows.filter((x) => x.series !== 'mean');
  const means = out.rows.filter((x) => x.series === 'mean');
  assert.equal(perSeries.length, 2 * 2 * methods.length);
  assert.equal(means.length, 2 * methods.length);
  for (const row of out.rows) {
    for (const k of ['series', 'h', 'method', 'mase', 'coverage', 'slack', 'n'])
      assert.ok(k in row, `${k} in ${JSON.stringify(row)}`);
    assert.ok(methods.includes(row.method));
  }
  const cpuNaive = perSeries.find(
    (x) => x.series === 'host.csv:cpu' && x.method === 'naive' && x.h === 1,
  )!;
  assert.equal(cpuNaive.mase, 1);
  // 4 days − 1 day of warm-up = 864 steps (the carried-forward gaps count as steps).
  assert.equal(cpuNaive.n, 3 * 288);
  // Bound-only methods have no MASE: null in JSON.
  assert.equal(perSeries.find((x) => x.method === 'vpa')!.mase, null);
});

test('the table: one per horizon, methods as asked, coverage target column', async () => {
  const r = await runCliToEnd(['eval', `${good}:cpu`, '--methods', 'ewma,peak_24h', '--h', '288']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^1 file, 1 series, 1152 values at 300 s; α = 0.05/);
  assert.match(r.stdout, /h = 288 \(24 h\)/);
  assert.match(r.stdout, /method\s+MASE\s+coverage\s+slack\s+≥ 94 %/);
  assert.match(r.stdout, /\n {2}ewma\s+\d+\.\d{3}/);
  assert.match(r.stdout, /\n {2}peak_24h\s+—/);
  assert.doesNotMatch(r.stdout, /\n {2}naive /); // run for scoring, not reported
});

test('a bad trace file exits 1 naming the file, line and column', async () => {
  const r = await runCliToEnd(['eval', bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.csv:4:2: "two" in column cpu is not a number/);
  const missing = await runCliToEnd(['eval', path.join(tmp.dir, 'nowhere.csv')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nowhere\.csv: cannot read: ENOENT/);
  const column = await runCliToEnd(['eval', `${good}:disk`]);
  assert.equal(column.code, 1);
  assert.match(column.stderr, /host\.csv: no column "disk" \(the file has: cpu, mem, temp\)/);
});

test('bad arguments exit 2 naming the option', async () => {
  const cases: [string[], RegExp][] = [
    [[], /eval needs at least one trace FILE/],
    [[good, '--h', '0,12'], /--h: expected a positive integer, got "0"/],
    [[good, '--h', '1,1'], /--h: a horizon is repeated/],
    [[good, '--alpha', '1.5'], /--alpha: expected a number between 0 and 1/],
    [[good, '--step', '-5'], /--step: expected a positive integer, got "-5"/],
    [[good, '--warmup-days', 'x'], /--warmup-days: expected a number of days/],
    [[good, '--methods', 'naive,prophet'], /--methods: unknown method "prophet" \(known: naive, /],
    [[good, '--backend', 'gpu'], /--backend: expected one of reference, native, onnx/],
    [[good, '--covariates', 'humidity'], /--covariates: no trace file has a column "humidity"/],
    [[good, '--frobnicate'], /Unknown option '--frobnicate'/],
  ];
  for (const [args, re] of cases) {
    const r = await runCliToEnd(['eval', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
});
