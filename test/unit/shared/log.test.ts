import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Logger, RateLimitedLog } from '../../../agent/shared/log.js';

function sink(isTTY: boolean) {
  const lines: string[] = [];
  return { lines, write: (l: string) => lines.push(l), isTTY };
}

test('JSON lines when stdout is not a terminal, with bound fields and errors expanded', () => {
  const out = sink(false);
  const log = new Logger({ sink: out }).child({ component: 'store' });
  const err = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  log.warn('redis error', { err, port: 6379 });
  log.debug('hidden at info');
  assert.equal(out.lines.length, 1);
  const o = JSON.parse(out.lines[0]!) as Record<string, unknown>;
  assert.equal(o.level, 'warn');
  assert.equal(o.msg, 'redis error');
  assert.equal(o.component, 'store');
  assert.equal(o.port, 6379);
  assert.deepEqual(o.err, { message: 'connect ECONNREFUSED', code: 'ECONNREFUSED', name: 'Error' });
  assert.match(String(o.time), /^\d{4}-\d\d-\d\dT/);
});

test('readable lines on a terminal; format and level can change on reload', () => {
  const out = sink(true);
  const log = new Logger({ sink: out });
  log.info('spikecap starting', { node: 'n1' });
  assert.match(out.lines[0]!, /^\d\d:\d\d:\d\d\.\d{3} INFO  spikecap starting {2}node=n1\n$/);
  log.configure('debug', 'json');
  log.debug('now visible');
  assert.equal((JSON.parse(out.lines[1]!) as { msg: string }).msg, 'now visible');
});

test('a rate-limited warning says how many repeats it held back', () => {
  const out = sink(false);
  const limited = new RateLimitedLog(new Logger({ sink: out }), 2, 1000);
  for (let i = 0; i < 5; i++) limited.warn('malformed input', { i }, 10_000 + i);
  limited.warn('malformed input', { i: 5 }, 11_500);
  const msgs = out.lines.map((l) => JSON.parse(l) as { msg: string; count?: number });
  assert.deepEqual(
    msgs.map((m) => m.msg),
    ['malformed input', 'malformed input', 'suppressed repeats', 'malformed input'],
  );
  assert.equal(msgs[2]!.count, 3);
});
