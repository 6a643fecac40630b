/** Trace CSV reading and resampling (agent/eval/trace.ts). */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  TraceError,
  parseTraceSpec,
  readTrace,
  resampleTrace,
  seriesOf,
} from '../../../agent/eval/trace.js';
import { tempDir } from '../../helpers/servers.js';

let tmp: { dir: string; remove(): void };
before(() => {
  tmp = tempDir('trace');
});
after(() => tmp.remove());

const values = (trace: ReturnType<typeof resampleTrace>, col: number): number[] => [
  ...trace.columns[col]!.values,
];

test('the grid is wall-clock aligned; the last value in a step wins; gaps carry forward', () => {
  const csv = [
    'timestamp,a,b',
    '1010,1,', //        step 0 [900,1200) ... t0 = ⌊1010/300⌋·300 = 900
    '1190,2,7', //       step 0 again: a = 2 (last wins), b = 7
    '1210,3,', //        step 1: a = 3, b missing → carried 7
    //                   step 2 [1500,1800): no row → a 3, b 7
    '1805,4,8', //       step 3: a 4, b 8 (jitter: 5 s late)
    '2099,,9', //        step 3 too (2099 < 2100): b = 9, a missing → stays 4
    '2100,5,NaN', //     step 4: a 5, b NaN = missing → 9
  ].join('\n');
  const t = resampleTrace(csv, 'x.csv', 300);
  assert.equal(t.t0, 900);
  assert.deepEqual(values(t, 0), [2, 3, 3, 4, 5]);
  assert.deepEqual(values(t, 1), [7, 7, 7, 9, 9]);
});

test('a column that starts late is NaN before its first value; CRLF and blank lines are fine', () => {
  const csv = 'timestamp,a,b\r\n0,1,\r\n60,2,\r\n\r\n120,3,5\r\n';
  const t = resampleTrace(csv, 'y.csv', 60);
  assert.deepEqual(values(t, 0), [1, 2, 3]);
  assert.deepEqual(values(t, 1), [NaN, NaN, 5]);
});

test('bad files: the message names file:line:column', () => {
  const bad = (csv: string, re: RegExp): void => {
    assert.throws(
      () => resampleTrace(csv, 'bad.csv', 300),
      (e: unknown) => e instanceof TraceError && re.test(e.message),
    );
  };
  bad('', /^bad\.csv: empty file/);
  bad('time,a\n0,1\n', /^bad\.csv:1:1: expected a header whose first column is "timestamp"/);
  bad('timestamp,a\n0,1\n300,x1\n', /^bad\.csv:3:2: "x1" in column a is not a number/);
  bad('timestamp,a,b\n0,1,2\n300,1,oops\n', /^bad\.csv:3:3: "oops" in column b/);
  bad(
    'timestamp,a\n600,1\n300,2\n',
    /^bad\.csv:3:1: timestamp 300 is before the previous row's 600/,
  );
  bad('timestamp,a\nnoon,1\n', /^bad\.csv:2:1: timestamp "noon" is not a number/);
  bad('timestamp,a\n0,1,2\n', /^bad\.csv:2: expected 2 fields like the header, got 3/);
  bad('timestamp,a,a\n0,1,2\n', /^bad\.csv:1:3: column "a" repeated/);
  bad('timestamp,a\n', /^bad\.csv: no data rows/);
  bad('timestamp,a\n0,1\n1e12,2\n', /are they unix seconds/);
});

test('FILE:COL,COL selects columns; covariates are inputs, not targets', () => {
  assert.deepEqual(parseTraceSpec('a.csv'), { file: 'a.csv' });
  assert.deepEqual(parseTraceSpec('a.csv:x,y'), { file: 'a.csv', columns: ['x', 'y'] });
  const file = path.join(tmp.dir, 'host:1.csv'); // a colon in an existing path is the file's
  writeFileSync(file, 'timestamp,cpu,mem,load\n0,1,2,3\n300,4,5,6\n');
  assert.deepEqual(parseTraceSpec(file), { file });

  const all = readTrace({ file }, { step: 300, covariates: ['load'] });
  assert.deepEqual(
    all.map((s) => [s.name, s.covariates.map((c) => c.name)]),
    [
      ['host:1.csv:cpu', ['load']],
      ['host:1.csv:mem', ['load']],
    ],
  );
  assert.deepEqual([...all[0]!.values], [1, 4]);
  assert.deepEqual([...all[0]!.covariates[0]!.values], [3, 6]);
  assert.equal(all[0]!.step, 300);
  assert.equal(all[0]!.t0, 0);

  const picked = readTrace({ file, columns: ['mem', 'load'] }, { step: 300, covariates: ['load'] });
  // An explicitly picked covariate is a target too, but never its own covariate.
  assert.deepEqual(
    picked.map((s) => [s.name, s.covariates.map((c) => c.name)]),
    [
      ['host:1.csv:mem', ['load']],
      ['host:1.csv:load', []],
    ],
  );
  assert.throws(
    () =>
      seriesOf(
        resampleTrace('timestamp,a\n0,1\n', 'z.csv', 300),
        { file: 'z.csv', columns: ['q'] },
        [],
      ),
    /z\.csv: no column "q" \(the file has: a\)/,
  );
  assert.throws(
    () => readTrace({ file: path.join(tmp.dir, 'none.csv') }, { step: 300 }),
    /none\.csv: cannot read: ENOENT/,
  );
});
