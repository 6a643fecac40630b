import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  TWO32,
  TWO64,
  counterDelta,
  ratePerSecond,
  stalledPct,
} from '../../../agent/metrics/counter.js';

void describe('counterDelta', () => {
  void it('is cur - prev for a counter that went up', () => {
    assert.equal(counterDelta(100, 250), 150);
    assert.equal(counterDelta(0, 0), 0);
  });

  void it('reads a 32-bit wrap near the top as a small delta', () => {
    assert.equal(counterDelta(TWO32 - 296, 704), 1000);
    assert.equal(counterDelta(TWO32 - 1, 0), 1);
  });

  void it('reads a 64-bit wrap near the top as a small delta', () => {
    assert.equal(counterDelta(TWO64 - 4096, 904), 5000);
    // A 64-bit counter above 2^32 cannot have wrapped at 32 bits.
    assert.equal(counterDelta(TWO32 + 10, 5), NaN);
  });

  void it('reads a drop that is no plausible wrap as a reset (NaN)', () => {
    assert.ok(Number.isNaN(counterDelta(123456789012, 5000)));
    assert.ok(Number.isNaN(counterDelta(1_000_000, 10)));
    // 32-bit counter halfway up: a wrap would mean ~2^31 in one tick.
    assert.ok(Number.isNaN(counterDelta(TWO32 / 2, 10)));
  });

  void it('turns an implausible wrap into a reset when the counter has a bound', () => {
    assert.equal(counterDelta(TWO32 - 500, 300, 1600), 800);
    assert.ok(Number.isNaN(counterDelta(TWO32 - 500_000, 300, 1600)));
  });

  void it('propagates NaN (no previous reading)', () => {
    assert.ok(Number.isNaN(counterDelta(NaN, 5)));
    assert.ok(Number.isNaN(counterDelta(5, NaN)));
  });
});

void describe('rates', () => {
  void it('divides by the elapsed time, not a nominal interval', () => {
    assert.equal(ratePerSecond(0, 1000, 1000), 1000);
    assert.equal(ratePerSecond(0, 1000, 2000), 500);
    assert.equal(ratePerSecond(0, 1000, 1250), 800);
  });

  void it('is NaN for a non-positive interval', () => {
    assert.ok(Number.isNaN(ratePerSecond(0, 1000, 0)));
    assert.ok(Number.isNaN(ratePerSecond(0, 1000, -5)));
  });

  void it('PSI stalled share of the interval, clamped at 100', () => {
    assert.equal(stalledPct(1_000_000, 1_250_000, 1000), 25);
    assert.equal(stalledPct(0, 1_010_000, 1000), 100);
    assert.ok(Number.isNaN(stalledPct(NaN, 5, 1000)));
  });
});
