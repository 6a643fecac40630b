/**
 * Fuzz of the frame codec and splitter: a million frames in all, random and mutated (bit flips,
 * lost, inserted and replaced bytes, truncations, duplicates, oversize frames, garbage between
 * frames with and without zeros), fed in random chunks to one long-lived FrameDecoder and one
 * long-lived FrameParser. Properties: nothing throws; every frame that comes out is one that was
 * sent (bit for bit, header and payload); every frame that went through untouched and started
 * after a clean delimiter comes out, in order; the heap after GC stays flat.
 *
 * fast-check draws the knobs of each run (rates, sizes, chunking, a seed); the bulk bytes come
 * from xoshiro128** with that seed, so a failure shrinks to small knobs and replays exactly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { Xoshiro128 } from '../../../agent/model/index.js';
import {
  FrameDecoder,
  FrameParser,
  encodeFrame,
  type Frame,
} from '../../../firmware-bridge/host/index.js';

const TOTAL_FRAMES = 1_000_000;
const FRAMES_PER_RUN = 1000;
const RUNS = TOTAL_FRAMES / FRAMES_PER_RUN;
/** Every this many runs, one goes through the stream Transform instead of the decoder. */
const TRANSFORM_EVERY = 8;
/** Allowed heap growth (after GC) from early in the fuzz to its end. */
const HEAP_SLACK_BYTES = 4 * 1024 * 1024;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const heapAfterGc = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

interface Knobs {
  readonly seed: number;
  readonly maxPayload: number;
  /** Share of frames damaged (one mutation each). */
  readonly mutateRate: number;
  /** Share of gaps between frames filled with random garbage. */
  readonly garbageRate: number;
  /** Share of frames sent with a leading 0x00. */
  readonly leadRate: number;
  /** Share of frames above maxPayload (must never come out). */
  readonly oversizeRate: number;
  /** Largest chunk the stream is cut into (1: byte by byte). */
  readonly maxChunk: number;
}

const knobs: fc.Arbitrary<Knobs> = fc.record({
  seed: fc.nat(),
  maxPayload: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 65, max: 600 })),
  mutateRate: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.6, noNaN: true })),
  garbageRate: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.4, noNaN: true })),
  leadRate: fc.double({ min: 0, max: 1, noNaN: true }),
  oversizeRate: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.05, noNaN: true })),
  maxChunk: fc.oneof(
    { weight: 1, arbitrary: fc.constant(1) },
    { weight: 8, arbitrary: fc.integer({ min: 2, max: 4096 }) },
  ),
});

const keyOf = (f: Frame): string => encodeFrame(f).toString('latin1');

function randomBytes(rng: Xoshiro128, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  const style = rng.nextInt(4);
  for (let i = 0; i < n; i += 4) {
    const x = rng.nextU32();
    for (let j = 0; j < 4 && i + j < n; j++) {
      // Uniform bytes; mostly zeros; no zeros at all (254-byte COBS blocks); a 0/0xff mix.
      const v = (x >>> (8 * j)) & 0xff;
      b[i + j] =
        style === 0
          ? v
          : style === 1
            ? v < 200
              ? 0
              : v
            : style === 2
              ? v | 1
              : v & 0x80
                ? 0xff
                : 0;
    }
  }
  return b;
}

function randomFrame(rng: Xoshiro128, k: Knobs): { frame: Frame; oversize: boolean } {
  const oversize = rng.nextFloat() < k.oversizeRate;
  const cap = rng.nextFloat() < 0.8 ? Math.min(64, k.maxPayload) : k.maxPayload;
  const length = oversize ? k.maxPayload + 1 + rng.nextInt(300) : rng.nextInt(cap + 1);
  return {
    oversize,
    frame: {
      version: rng.nextFloat() < 0.9 ? 1 : rng.nextInt(256),
      type: rng.nextInt(256),
      seq: rng.nextInt(0x10000),
      flags: rng.nextFloat() < 0.9 ? 0 : rng.nextInt(0x10000),
      boot: rng.nextU32(),
      payload: randomBytes(rng, length),
    },
  };
}

/** One mutation of a frame's wire bytes (delimiters included). */
function mutate(rng: Xoshiro128, bytes: Buffer): Buffer {
  const at = rng.nextInt(bytes.length);
  switch (rng.nextInt(5)) {
    case 0: {
      const out = Buffer.from(bytes);
      for (let flips = 1 + rng.nextInt(3); flips > 0; flips--) {
        const p = rng.nextInt(out.length);
        out[p] = out[p]! ^ (1 << rng.nextInt(8));
      }
      return out;
    }
    case 1:
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
    case 2:
      return Buffer.concat([
        bytes.subarray(0, at),
        Buffer.of(rng.nextInt(256)),
        bytes.subarray(at),
      ]);
    case 3:
      return bytes.subarray(0, at);
    default: {
      const out = Buffer.from(bytes);
      out[at] = rng.nextInt(256);
      return out;
    }
  }
}

/** The stream of one run, what may come out of it, and what must. */
function buildRun(k: Knobs) {
  const rng = new Xoshiro128(k.seed);
  const parts: Buffer[] = [Buffer.of(0)]; // cut whatever the previous run left
  const allowed = new Set<string>();
  const mustArrive: string[] = [];
  let prevByte = 0;
  const push = (b: Buffer) => {
    if (b.length === 0) return;
    parts.push(b);
    prevByte = b[b.length - 1]!;
  };
  for (let i = 0; i < FRAMES_PER_RUN; i++) {
    if (rng.nextFloat() < k.garbageRate) push(randomBytes(rng, 1 + rng.nextInt(40)));
    const { frame, oversize } = randomFrame(rng, k);
    const lead = rng.nextFloat() < k.leadRate;
    const bytes = encodeFrame(frame, { leadingZero: lead });
    const key = keyOf(frame);
    if (!oversize) allowed.add(key);
    const mutated = rng.nextFloat() < k.mutateRate;
    const cleanStart = lead || prevByte === 0;
    push(mutated ? mutate(rng, bytes) : bytes);
    if (!mutated && !oversize && cleanStart) mustArrive.push(key);
    if (!mutated && rng.nextFloat() < 0.01) {
      push(bytes); // a duplicate (a device answering a retry twice)
      if (!oversize && (lead || prevByte === 0)) mustArrive.push(key);
    }
  }
  // A run ends with a delimiter, so a last frame that lost only its own delimiter is judged
  // here (where it was sent), not glued to the next run's first bytes.
  push(Buffer.of(0));
  const stream = Buffer.concat(parts);
  const chunks: Buffer[] = [];
  for (let at = 0; at < stream.length;) {
    const n = 1 + rng.nextInt(k.maxChunk);
    chunks.push(stream.subarray(at, at + n));
    at += n;
  }
  return { chunks, allowed, mustArrive };
}

function check(got: Frame[], allowed: Set<string>, mustArrive: string[]): void {
  let next = 0;
  for (const f of got) {
    const key = keyOf(f);
    assert.ok(
      allowed.has(key),
      `a frame that was never sent came out: seq ${f.seq}, type ${f.type}`,
    );
    if (next < mustArrive.length && key === mustArrive[next]) next++;
  }
  assert.equal(
    next,
    mustArrive.length,
    `${mustArrive.length - next} intact frame(s) lost or out of order`,
  );
}

test(`parser and codec survive ${TOTAL_FRAMES.toLocaleString('en')} random and mutated frames`, async () => {
  const decoder = new FrameDecoder();
  const parser = new FrameParser();
  let sink: Frame[] = [];
  parser.on('data', (f: Frame) => sink.push(f));
  let run = 0;
  let baseline = 0;
  const t0 = performance.now();

  await fc.assert(
    fc.asyncProperty(knobs, async (k) => {
      run++;
      const { chunks, allowed, mustArrive } = buildRun(k);
      let got: Frame[];
      if (run % TRANSFORM_EVERY === 0) {
        parser.maxPayload = k.maxPayload;
        sink = [];
        for (const c of chunks) parser.write(c);
        // The callback of a last write runs once every chunk before it went through _transform.
        await new Promise<void>((resolve, reject) =>
          parser.write(Buffer.of(0), (err) => (err ? reject(err) : resolve())),
        );
        await new Promise((resolve) => setImmediate(resolve));
        got = sink;
      } else {
        decoder.maxPayload = k.maxPayload;
        got = [];
        for (const c of chunks) decoder.feed(c, (f) => got.push(f));
      }
      check(got, allowed, mustArrive);
      if (run === 50) baseline = heapAfterGc();
    }),
    { numRuns: RUNS, endOnFailure: true },
  );

  const seconds = (performance.now() - t0) / 1000;
  const growth = heapAfterGc() - baseline;
  const c = decoder.counters;
  assert.ok(c.framesIn > TOTAL_FRAMES / 4, `frames through the decoder: ${c.framesIn}`);
  assert.ok(c.crcErrors > 0 && c.framingErrors > 0 && c.resyncs > 0, JSON.stringify(c));
  assert.ok(parser.counters.framesIn > 0);
  assert.ok(
    growth < HEAP_SLACK_BYTES,
    `heap grew by ${(growth / 1048576).toFixed(1)} MB over ${RUNS} runs (allowed ${HEAP_SLACK_BYTES / 1048576} MB)`,
  );
  assert.ok(seconds < 60, `the fuzz took ${seconds.toFixed(1)} s`);
});
