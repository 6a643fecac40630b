/**
 * splitmix32 and xoshiro128** (agent/model/prng.ts) against a C transcription of the published
 * algorithms, and the standard input and firing-rate measure of SPEC.md built on them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SplitMix32, Xoshiro128 } from '../../../agent/model/prng.js';
import {
  COUNTED_SAMPLES,
  StandardInput,
  WARMUP_SAMPLES,
  measureFiringRate,
  standardInput,
} from '../../../agent/model/standard-input.js';

// From a C program: the splitmix32 and xoshiro128** of prng.ts's header with uint32_t arithmetic
// (xoshiro128** as in https://prng.di.unimi.it/xoshiro128starstar.c).
const VECTORS = [
  {
    seed: 0,
    splitmix: [1684164658, 3653269916, 2939563536, 2141751570],
    xoshiro: [1789933344, 44971166, 2521387044, 3848737593, 1138324114, 749234105],
  },
  {
    seed: 1,
    splitmix: [1580013426, 350525680, 3524174333, 3011703609],
    xoshiro: [393288148, 2174103013, 3814759091, 2092745082, 1865176206, 2179171167],
  },
  {
    seed: 0x5eed,
    splitmix: [1365145197, 2682685793, 40415518, 863273770],
    xoshiro: [3272804103, 1323078912, 1893449574, 2910211328, 4141569412, 3407657872],
  },
  {
    seed: 0xffffffff,
    splitmix: [3950124170, 4293442868, 1302505678, 2762329221],
    xoshiro: [4104197751, 1825856343, 1152209388, 2427537429, 3685145430, 609215610],
  },
];

test('splitmix32 and xoshiro128** give the reference sequences', () => {
  for (const v of VECTORS) {
    const sm = new SplitMix32(v.seed);
    assert.deepEqual(
      v.splitmix.map(() => sm.nextU32()),
      v.splitmix,
      `splitmix32(${v.seed})`,
    );
    const x = new Xoshiro128(v.seed);
    assert.deepEqual(
      v.xoshiro.map(() => x.nextU32()),
      v.xoshiro,
      `xoshiro128**(${v.seed})`,
    );
  }
  // The seed is taken modulo 2^32.
  assert.equal(new Xoshiro128(2 ** 32 + 1).nextU32(), VECTORS[1]!.xoshiro[0]);
  assert.equal(new Xoshiro128(-1).nextU32(), VECTORS[3]!.xoshiro[0]);
});

test('nextFloat is the top 24 bits of one draw, in [0, 1)', () => {
  const a = new Xoshiro128(9);
  const b = new Xoshiro128(9);
  for (let i = 0; i < 1000; i++) {
    const f = a.nextFloat();
    assert.equal(f, (b.nextU32() >>> 8) / 2 ** 24);
    assert.ok(f >= 0 && f < 1);
  }
});

test('nextInt(n) takes draws below the largest multiple of n, modulo n', () => {
  for (const n of [1, 3, 10, 1000, 2 ** 31 + 1, 2 ** 32]) {
    const a = new Xoshiro128(n);
    const b = new Xoshiro128(n);
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (let i = 0; i < 200; i++) {
      let x = b.nextU32();
      while (x >= limit) x = b.nextU32();
      assert.equal(a.nextInt(n), x % n, `nextInt(${n})`);
    }
  }
  // Roughly uniform: 30000 draws in 3 bins.
  const r = new Xoshiro128(5);
  const bins = [0, 0, 0];
  for (let i = 0; i < 30000; i++) bins[r.nextInt(3)]!++;
  for (const b of bins) assert.ok(Math.abs(b - 10000) < 400, String(bins));
  for (const bad of [0, -1, 1.5, 2 ** 32 + 1, NaN])
    assert.throws(() => r.nextInt(bad), RangeError, String(bad));
});

test('partialShuffle picks k distinct elements and keeps the array a permutation', () => {
  const r = new Xoshiro128(3);
  const pool = Uint16Array.from({ length: 50 }, (_, i) => i);
  const seen = new Set<string>();
  for (let round = 0; round < 20; round++) {
    r.partialShuffle(pool, 7);
    assert.equal(new Set(pool.subarray(0, 7)).size, 7);
    assert.deepEqual(
      Array.from(pool).sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i),
    );
    seen.add(pool.subarray(0, 7).join());
  }
  assert.equal(seen.size, 20, 'different draws');
  const array = ['a', 'b', 'c'];
  r.partialShuffle(array, 0);
  assert.deepEqual(array, ['a', 'b', 'c']);
  r.shuffle(array);
  assert.deepEqual([...array].sort(), ['a', 'b', 'c']);
  assert.throws(() => r.partialShuffle(array, 4), RangeError);
  // Same seed, same shuffle.
  const p = Array.from({ length: 10 }, (_, i) => i);
  const q = [...p];
  new Xoshiro128(8).shuffle(p);
  new Xoshiro128(8).shuffle(q);
  assert.deepEqual(p, q);
});

test('the standard input: counts 1 with probability 1/4 from xoshiro128** seeded by 0x5eed', () => {
  // From the C program: draw < 2^30 for the first 32 draws of the 0x5eed stream.
  // prettier-ignore
  const first = [0,0,0,0,0,0,0,1, 0,0,0,1,1,0,0,0, 0,0,0,0,1,0,0,0, 0,1,1,0,1,1,1,0];
  assert.deepEqual(Array.from(standardInput({ substeps: 4, inputs: 8 }, 1)), first);
  // Raster order, sample after sample: the shape only cuts the one stream into samples.
  assert.deepEqual(Array.from(standardInput({ substeps: 1, inputs: 2 }, 16)), first);
  const s = new StandardInput({ substeps: 2, inputs: 4 });
  const a = new Uint8Array(8);
  const b = new Uint8Array(24);
  assert.equal(s.next(a, 1), 1);
  assert.equal(
    s.next(b, 3),
    first.slice(8).reduce((x, y) => x + y),
  );
  assert.deepEqual([...a, ...b], first);
  // 1088 samples of 64 counts hold 17266 ones, 16217 of them in the counted 1024 (C program).
  const all = standardInput({ substeps: 4, inputs: 16 }, 1088);
  assert.equal(
    all.reduce((x, y) => x + y, 0),
    17266,
  );
  assert.equal(
    all.subarray(64 * 64).reduce((x, y) => x + y, 0),
    16217,
  );
});

test('measureFiringRate: reset, 64 samples not counted, 1024 counted, events as SPEC.md says', () => {
  const calls: string[] = [];
  let stepped = 0;
  const fake = {
    reset: () => calls.push('reset'),
    step(input: Uint8Array, features: Int16Array, samples: number): number {
      assert.ok(input.length >= samples * 4 * 16 && features.length >= samples * 2 * 4);
      calls.push(`step ${samples}`);
      stepped += samples;
      return 2 * samples; // two spikes per sample
    },
  };
  const model = { neurons: 4, inputs: 16, fanout: 3, substeps: 4 };
  const r = measureFiringRate(fake, model);
  assert.equal(calls[0], 'reset');
  assert.equal(stepped, WARMUP_SAMPLES + COUNTED_SAMPLES);
  assert.equal(r.samples, 1024);
  assert.equal(r.spikesPerSample, 2);
  assert.equal(r.rate, 2048 / (4 * 4 * 1024)); // spikes / (N · S · samples)
  assert.equal(r.eventsPerSample, (3 * (16217 + 2048)) / 1024); // F · (non-zero counts + spikes)
});
