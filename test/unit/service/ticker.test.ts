import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ticker } from '../../../agent/service/ticker.js';

function collect(t: Ticker): number[] {
  const seen: number[] = [];
  t.on('tick', (ts) => seen.push(ts));
  return seen;
}

test('ticks fall on multiples of the interval on the wall clock, one per interval', async () => {
  const t = new Ticker(100);
  const seen = collect(t);
  t.start();
  await new Promise((r) => setTimeout(r, 550));
  t.stop();
  assert.ok(seen.length >= 4 && seen.length <= 6, `ticks: ${seen.length}`);
  for (const ts of seen) assert.equal(ts % 100, 0);
  for (let i = 1; i < seen.length; i++) assert.equal(seen[i]! - seen[i - 1]!, 100);
  const s = t.stats();
  assert.equal(s.ticks, seen.length);
  assert.equal(s.missed, 0);
  assert.ok(s.lagMs.max >= 0 && s.lagMs.max < 100, `lag ${s.lagMs.max}`);
});

test('a blocked event loop shows up as missed ticks, not as a burst of late ones', async () => {
  const t = new Ticker(100);
  const seen = collect(t);
  t.start();
  await new Promise((r) => setTimeout(r, 150));
  const until = Date.now() + 450;
  while (Date.now() < until) {
    /* block the loop past several ticks */
  }
  await new Promise((r) => setTimeout(r, 250));
  t.stop();
  const s = t.stats();
  assert.ok(s.missed >= 3, `missed ${s.missed}`);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, 'strictly increasing');
  // Every slot from the first to the last is either emitted or counted as missed.
  const slots = (seen[seen.length - 1]! - seen[0]!) / 100 + 1;
  assert.equal(seen.length + s.missed, slots);
});

test('a wall clock stepping back skips the slots already emitted', () => {
  let now = 1_000_050;
  const t = new Ticker(100, () => now);
  const seen = collect(t);
  // Emulate the timer's fires with a clock we control.
  t.start();
  const fire = (t as unknown as { fire(s: number): void }).fire.bind(t);
  now = 1_000_100;
  fire(1_000_100);
  now = 1_000_200;
  fire(1_000_200);
  now = 1_000_150; // NTP stepped the clock back
  fire(1_000_200);
  now = 1_000_300;
  fire(1_000_300);
  t.stop();
  assert.deepEqual(seen, [1_000_100, 1_000_200, 1_000_300]);
  assert.equal(t.stats().clockBackwards, 1);
  assert.equal(t.stats().missed, 0);
});
