/**
 * The firmware bridge benchmark of issue #4, over a real pseudo-terminal to the virtual board
 * with the default model (config/reservoir.spkb: 512 neurons, 16 inputs, 4 sub-steps):
 *   1. STEP round trip (one sample) through BoardClient, next to a raw exchange of the same
 *      byte counts over the same kind of pty: the virtual board's `--raw-reply N` answers every
 *      0x00-ended chunk with N bytes, through the same poll loop and output queue, so the
 *      difference is the protocol (COBS, CRC, parsing, waiters) and the board's compute.
 *   2. Upload throughput of the model image, next to raw exchanges of the same number and size,
 *      with the same window as the protocol's (BEGIN and DONE alone, the chunks `rx_window` at
 *      a time) and one by one, and next to one raw burst of the image's size.
 *   3. For a real UART at 921,600 baud (8N1: 10 bits a byte), the wire time of one STEP and so
 *      the shortest tick the link allows.
 */
import { once } from 'node:events';
import path from 'node:path';
import { SerialPort } from 'serialport';
import {
  BoardClient,
  MessageType,
  encodeFrame,
  modelImage,
} from '../../firmware-bridge/host/index.js';
import { fixPollerInterest } from '../../firmware-bridge/host/poller-fix.js';
import { quantile } from '../../agent/backends/bench.js';
import { readBundle, standardInput } from '../../agent/model/index.js';
import { startVirtualBoard } from '../helpers/virtual-board.js';

const BAUD = 921_600;
const WARMUP = 200;
const ROUNDS = 10;
const STEPS_PER_ROUND = 300;

interface Percentiles {
  p50: number;
  p99: number;
}

function percentiles(xs: number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p99: quantile(s, 0.99) };
}

const fmt = (x: number, d = 1) => x.toFixed(d);

/** A raw pty: writes `out` bytes (non-zero, then 0x00) and waits for `expect` bytes back. */
class RawLink {
  private got = 0;
  private want = 0;
  private wake: (() => void) | undefined;

  private constructor(private readonly port: SerialPort) {
    port.on('data', (b: Buffer) => {
      this.got += b.length;
      if (this.wake && this.got >= this.want) {
        const w = this.wake;
        this.wake = undefined;
        w();
      }
    });
  }

  static async open(file: string): Promise<RawLink> {
    const port = new SerialPort({ path: file, baudRate: BAUD, autoOpen: false });
    await new Promise<void>((resolve, reject) =>
      port.open((err) => (err ? reject(err) : resolve())),
    );
    fixPollerInterest(port); // as BoardClient does: the same write path on both sides
    return new RawLink(port);
  }

  /** One exchange; resolves when `expect` bytes have come back. */
  exchange(out: Buffer, expect: number): Promise<void> {
    this.got = 0;
    this.want = expect;
    const done = new Promise<void>((resolve) => (this.wake = resolve));
    this.port.write(out);
    return done;
  }

  /**
   * `n` exchanges with up to `window` in flight, as the upload keeps them; resolves when all `n`
   * answers of `expect` bytes have come back.
   */
  windowed(out: Buffer, expect: number, n: number, window: number): Promise<void> {
    let sent = 0;
    this.got = 0;
    return new Promise<void>((resolve) => {
      const refill = () => {
        const answered = Math.floor(this.got / expect);
        while (sent < n && sent - answered < window) {
          this.port.write(out);
          sent++;
        }
        if (answered >= n) return resolve();
        this.want = (answered + 1) * expect;
        this.wake = refill;
      };
      refill();
    });
  }

  async close(): Promise<void> {
    if (!this.port.isOpen) return;
    const closed = once(this.port, 'close');
    this.port.close();
    await closed;
  }
}

function chunkOf(bytes: number): Buffer {
  const b = Buffer.alloc(bytes, 0x55);
  b[bytes - 1] = 0;
  return b;
}

/** A board with `--raw-reply back` and a raw link to it. */
async function rawBoard(back: number): Promise<{ link: RawLink; stop(): Promise<void> }> {
  const board = await startVirtualBoard({ rawReply: back });
  const link = await RawLink.open(board.path);
  return {
    link,
    async stop() {
      await link.close();
      await board.stop();
    },
  };
}

/** `n` raw exchanges of `out` → `back` bytes; their times in ms. */
async function exchanges(link: RawLink, out: number, back: number, n: number): Promise<number[]> {
  const chunk = chunkOf(out);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await link.exchange(chunk, back);
    times.push(performance.now() - t0);
  }
  return times;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const median = (xs: number[]) => percentiles(xs).p50;

export async function benchSerial(): Promise<void> {
  const bundle = readBundle(path.resolve('config/reservoir.spkb'));
  const { neurons, inputs, substeps } = bundle.model;
  const image = modelImage(bundle);
  const perSample = substeps * inputs;
  const input = standardInput(bundle.model, WARMUP + ROUNDS * STEPS_PER_ROUND);
  const sample = (i: number) => input.subarray(i * perSample, (i + 1) * perSample);

  const board = await startVirtualBoard();
  const stops: (() => Promise<void>)[] = [() => board.stop()];
  try {
    const client = await BoardClient.open(board.path, { baudRate: BAUD });
    stops.unshift(() => client.close());

    // What one upload and one STEP put on the wire, from the client's counters.
    let c0 = client.counters();
    await client.upload(image);
    let c1 = client.counters();
    const upload = {
      exchanges: c1.framesOut - c0.framesOut,
      out: c1.bytesOut - c0.bytesOut,
      back: c1.bytesIn - c0.bytesIn,
    };
    for (let i = 0; i < WARMUP; i++) await client.step(sample(i), 1);
    c0 = client.counters();
    await client.step(sample(0), 1);
    c1 = client.counters();
    const step = { out: c1.bytesOut - c0.bytesOut, back: c1.bytesIn - c0.bytesIn };

    const stepRaw = await rawBoard(step.back);
    stops.unshift(() => stepRaw.stop());
    // Upload's raw twins: the same exchanges with the same window, and one by one; and the pty's
    // own limit: all the bytes in one burst, one back. An upload is UPLOAD_BEGIN and
    // UPLOAD_DONE, each alone on the line (PROTOCOL.md 4.1: nothing else is in flight with
    // them), around the chunks, which go `window` at a time; the windowed twin does the same
    // with the same byte counts (the frame sizes of BEGIN and DONE; the chunks share the rest).
    // One raw board answers all with the chunks' ack size (BEGIN's and DONE's answers are
    // within 30 bytes of it).
    const wire = (type: number, payload: number) =>
      encodeFrame(
        { version: 1, type, seq: 0, flags: 0, boot: 1, payload: Buffer.alloc(payload) },
        { leadingZero: true },
      ).length;
    const begin = wire(MessageType.UPLOAD_BEGIN, 36);
    const done = wire(MessageType.UPLOAD_DONE, 0);
    const chunks = upload.exchanges - 2;
    const each = Math.round((upload.out - begin - done) / chunks);
    const ack = wire(MessageType.UPLOAD_CHUNK | 0x80, 4);
    const window = client.hello.limits.rxWindow;
    const ackRaw = await rawBoard(ack);
    stops.unshift(() => ackRaw.stop());
    const burstRaw = await rawBoard(1);
    stops.unshift(() => burstRaw.stop());
    await exchanges(stepRaw.link, step.out, step.back, WARMUP);

    // Interleaved rounds, so that both sides see the same machine.
    const stepMs: number[] = [];
    const rawStepMs: number[] = [];
    const uploadMs: number[] = [];
    const rawSeqMs: number[] = [];
    const rawWindowMs: number[] = [];
    const rawBurstMs: number[] = [];
    const before = client.counters();
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < STEPS_PER_ROUND; i++) {
        const t0 = performance.now();
        await client.step(sample(WARMUP + r * STEPS_PER_ROUND + i), 1);
        stepMs.push(performance.now() - t0);
      }
      rawStepMs.push(...(await exchanges(stepRaw.link, step.out, step.back, STEPS_PER_ROUND)));
      let t0 = performance.now();
      await client.upload(image);
      uploadMs.push(performance.now() - t0);
      rawSeqMs.push(
        sum([
          ...(await exchanges(ackRaw.link, begin, ack, 1)),
          ...(await exchanges(ackRaw.link, each, ack, chunks)),
          ...(await exchanges(ackRaw.link, done, ack, 1)),
        ]),
      );
      t0 = performance.now();
      await ackRaw.link.exchange(chunkOf(begin), ack);
      await ackRaw.link.windowed(chunkOf(each), ack, chunks, window);
      await ackRaw.link.exchange(chunkOf(done), ack);
      rawWindowMs.push(performance.now() - t0);
      t0 = performance.now();
      await burstRaw.link.exchange(chunkOf(upload.out), 1);
      rawBurstMs.push(performance.now() - t0);
    }
    const after = client.counters();
    if (after.retries !== before.retries || after.crcErrors !== before.crcErrors)
      throw new Error(`the run was not clean: ${JSON.stringify(after)}`);

    const proto = percentiles(stepMs);
    const bare = percentiles(rawStepMs);
    const us = (ms: number) => fmt(ms * 1000, 0);
    console.log(
      `\n## Serial link: virtual board on a pty, default model (${neurons} neurons, ${inputs} inputs, ${substeps} sub-steps)\n`,
    );
    console.log(
      `${ROUNDS} interleaved rounds of ${STEPS_PER_ROUND} STEPs, one upload and their raw twins. ` +
        `STEP of one sample: ${step.out} bytes out, ${step.back} back.\n`,
    );
    console.log('| round trip | p50 µs | p99 µs |');
    console.log('|---|---|---|');
    console.log(`| STEP (BoardClient) | ${us(proto.p50)} | ${us(proto.p99)} |`);
    console.log(`| raw pty, same byte counts | ${us(bare.p50)} | ${us(bare.p99)} |`);
    console.log(
      `\nSTEP / raw: ${fmt(proto.p50 / bare.p50, 2)}× at p50, ${fmt(proto.p99 / bare.p99, 2)}× at p99 (goal ≤ 1.5×)`,
    );

    const mbps = (ms: number) => image.length / 1e6 / (ms / 1000);
    const row = (name: string, xs: number[]) =>
      console.log(`| ${name} | ${fmt(mbps(median(xs)), 1)} | ${fmt(mbps(Math.min(...xs)), 1)} |`);
    console.log(
      `\nUpload of the ${image.length}-byte image: ${upload.exchanges} requests (rx_window ${window}), ` +
        `${upload.out} bytes out, ${upload.back} back.\n`,
    );
    console.log('| transfer of the image | median MB/s | best MB/s |');
    console.log('|---|---|---|');
    row('upload (BEGIN, windowed CHUNKs, DONE: SHA-256 and model check on the board)', uploadMs);
    row(
      `raw pty, the same ${upload.exchanges} exchanges: BEGIN, ${chunks} chunks ${window} in flight, DONE`,
      rawWindowMs,
    );
    row(`raw pty, the same ${upload.exchanges} exchanges one by one`, rawSeqMs);
    row('raw pty, all the bytes in one burst', rawBurstMs);
    console.log(
      `\nupload / raw, same exchanges: ${fmt((100 * median(rawWindowMs)) / median(uploadMs), 0)}% (goal ≥ 80%); ` +
        `/ raw one by one: ${fmt((100 * median(rawSeqMs)) / median(uploadMs), 0)}%; ` +
        `/ raw burst: ${fmt((100 * median(rawBurstMs)) / median(uploadMs), 0)}%`,
    );

    // A real UART: 10 bits a byte (8N1).
    const wireMs = ((step.out + step.back) * 10 * 1000) / BAUD;
    const uploadWireS = ((upload.out + upload.back) * 10) / BAUD;
    console.log(
      `\nAt ${BAUD} baud (8N1), one STEP is ${step.out + step.back} bytes: ${fmt(wireMs, 2)} ms on the wire, ` +
        `so the link carries at most ${Math.floor(1000 / wireMs)} one-sample STEPs a second and the shortest ` +
        `tick is ${fmt(wireMs, 2)} ms plus the board's compute (a 1 s tick leaves the link ${fmt(100 - wireMs / 10, 1)}% idle). ` +
        `Uploading the model takes ${fmt(uploadWireS, 2)} s of wire time.`,
    );
  } finally {
    for (const stop of stops) await stop();
  }
}
