/**
 * The host side of the serial link (firmware-bridge/PROTOCOL.md): a {@link BoardClient} owns one
 * serial port and speaks the protocol's rules over it. Stop and wait with one request in flight
 * (4.1); sequence numbers and retries of the identical bytes (4.2); the boot id that tells it
 * when the device reset (4.3); timeouts and probing with HELLO after a failure (4.4); reopening
 * a port that vanished (4.5).
 *
 * What it does not do is remember models and states: after a device reset it reports the reset
 * (event `reset`, error `E_BOOT`) and the caller decides. The serial backend (serial-backend.ts)
 * is the caller that restores the model and state.
 */
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { realpathSync } from 'node:fs';
import { SerialPort } from 'serialport';
import {
  DEFAULT_MAX_PAYLOAD,
  HELLO_SIZE,
  MessageType,
  PROTOCOL_VERSION,
  PayloadError,
  RESPONSE_FLAG,
  STATS_SIZE,
  SHA256_SIZE,
  decodeError,
  decodeHello,
  decodeOffset,
  decodeSha256,
  decodeStats,
  decodeStepResponse,
  encodeFrame,
  encodeReset,
  encodeStep,
  encodeUploadBegin,
  encodeUploadChunk,
  messageTypeName,
  stepResponseSize,
  wireSize,
  type DeviceStats,
  type ErrorName,
  type Frame,
  type HelloInfo,
  type RequestType,
  type StepResult,
} from './frame.js';
import { imageSha256, imageShape } from './image.js';
import { FrameDecoder } from './parser.js';
import { fixPollerInterest } from './poller-fix.js';

/** How a {@link BoardClient} talks to its port. Every field has a default. */
export interface BoardClientOptions {
  /** Baud rate of a real UART (default 921600); it also sizes the timeouts (PROTOCOL.md 4.4). */
  readonly baudRate?: number;
  /** `base` of PROTOCOL.md 4.4: the device's compute time plus the OS's latency (default 200 ms). */
  readonly baseTimeoutMs?: number;
  /** Retries of a request that timed out, each with the identical bytes (default 4). */
  readonly retries?: number;
  /** How often to reopen a vanished port and to probe a silent device with HELLO (default 100 ms). */
  readonly reconnectIntervalMs?: number;
  /**
   * A pseudo-terminal, where the baud rate means nothing and the wire time of 4.4 is 0. Default:
   * true when the path resolves to `/dev/pts/*` (as the virtual board's `--link` does).
   */
  readonly pty?: boolean;
}

/**
 * Why a board call failed: the device's error (`E_…` of PROTOCOL.md section 7), or the host's:
 * - `ETIMEDOUT`: no answer after all retries; the request may or may not have been executed.
 * - `EDISCONNECTED`: the port closed or failed; the client reopens it by itself.
 * - `ECLOSED`: a call after {@link BoardClient.close}.
 * - `EPROTO`: the device answered something that cannot be right (a payload of the wrong size,
 *   an error code this host does not know, a PING that came back different).
 */
export type BoardErrorCode = ErrorName | 'ETIMEDOUT' | 'EDISCONNECTED' | 'ECLOSED' | 'EPROTO';

/** A failed board call. The message says what was asked of which port, and what went wrong. */
export class BoardError extends Error {
  constructor(
    readonly code: BoardErrorCode,
    message: string,
    /**
     * The `detail` of a device error (E_OFFSET: the offset the device has, E_BOOT: its boot id,
     * E_VERSION: the highest version it speaks); `undefined` for host-side errors.
     */
    readonly detail?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BoardError';
  }
}

/** The host's counters of the link (PROTOCOL.md section 5), since the client was opened. */
export interface LinkCounters {
  /** Frames written, retries included. */
  readonly framesOut: number;
  /** Valid frames received (accepted or not). */
  readonly framesIn: number;
  readonly bytesOut: number;
  readonly bytesIn: number;
  readonly crcErrors: number;
  /** Frames dropped for COBS, short, length or oversize errors. */
  readonly framingErrors: number;
  /** Good frames received after discarded bytes. */
  readonly resyncs: number;
  /** Requests resent after a timeout. */
  readonly retries: number;
  /** Requests that failed after all retries (`ETIMEDOUT`). */
  readonly timeouts: number;
  /** Valid frames that answered nothing in flight (late answers to earlier attempts). */
  readonly stale: number;
  /** New boot ids seen: device resets. */
  readonly resetsSeen: number;
  /** Times the port was reopened after it vanished and the device answered HELLO. */
  readonly reconnects: number;
  /** UPLOAD_CHUNKs sent while others were in flight (the device's rx_window, PROTOCOL.md 4.1). */
  readonly windowedChunks: number;
  /** Windows given up at a gap (a lost or refused chunk): the upload went on one by one. */
  readonly windowGaps: number;
}

/** The state of the link, as far as the client knows without asking. */
export interface LinkStatus {
  /**
   * `up`: the last exchange worked; `silent`: the device stopped answering (probing with
   * HELLO); `disconnected`: the port is gone (reopening); `closed`: after close().
   */
  readonly state: 'up' | 'silent' | 'disconnected' | 'closed';
  /** When it entered this state (ms since the epoch). */
  readonly since: number;
  /** What happened, for states other than `up`. */
  readonly reason?: string;
}

/** Events of a {@link BoardClient}. None is `error`: failures reach callers as rejections. */
export type BoardClientEvents = {
  /** A new boot id was seen: the device reset and lost its model, state and upload. */
  reset: [info: { readonly previousBootId: number; readonly bootId: number }];
  /** The port closed or failed; the client reopens it every `reconnectIntervalMs`. */
  disconnect: [error: Error];
  /** The port is open again and the device answered HELLO. */
  reconnect: [hello: HelloInfo];
};

const DEFAULTS = {
  baudRate: 921_600,
  baseTimeoutMs: 200,
  retries: 4,
  reconnectIntervalMs: 100,
} as const;

/** The largest ERROR payload: fixed fields and at most 64 bytes of text. */
const ERROR_MAX_PAYLOAD = 8 + 64;
/** The canonical state is 7 bytes per neuron (SPEC.md, "State"). */
const STATE_BYTES_PER_NEURON = 7;
const EMPTY = new Uint8Array(0);
/** The smallest upload chunk the client shrinks to on a noisy link. */
const MIN_UPLOAD_CHUNK = 32;
/** Chunks answered in a row after which a shrunk chunk size doubles again. */
const CHUNK_GROWTH_STREAK = 8;
/** Upload failures after which the upload is resumed (PROTOCOL.md 3.2) rather than given up. */
const RESUMABLE: ReadonlySet<BoardErrorCode> = new Set<BoardErrorCode>([
  'ETIMEDOUT',
  'EDISCONNECTED',
  'E_BOOT',
  'E_NOUPLOAD',
  'E_OFFSET',
  'E_INCOMPLETE',
]);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * How one attempt of a request ended: with its answer, with nothing (`timeout`), or with a frame
 * that arrived damaged (`damaged`: most likely the answer, hit by noise).
 */
type Outcome = Frame | 'timeout' | 'damaged';

/** Waiting for the answer to one attempt of one request. */
interface Waiter {
  /** The request, as messages name it: `STEP seq 17 (3 samples)`. */
  readonly what: string;
  readonly accepts: (frame: Frame) => boolean;
  readonly settle: (outcome: Outcome) => void;
  readonly fail: (err: BoardError) => void;
}

/** One UPLOAD_CHUNK of a window in flight (PROTOCOL.md 4.1): its seq and where it ends. */
interface WindowSlot {
  readonly seq: number;
  readonly end: number;
  /** Its answer (an ERROR included), or `lost`: no answer will be taken for it. */
  readonly answer: Promise<Frame | 'lost'>;
  readonly settle: (outcome: Frame | 'lost') => void;
}

/** One request: what is sent, and what its answer can be. */
interface Request {
  readonly type: RequestType;
  readonly payload: Uint8Array;
  /** Shown after `TYPE seq N` in messages, e.g. `3 samples`. */
  readonly note?: string;
  /** The largest payload the answer can have: part of the timeout (4.4). */
  readonly responseMax: number;
}

function isPtyPath(path: string): boolean {
  try {
    return realpathSync(path).startsWith('/dev/pts/');
  } catch {
    return false;
  }
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const noop = (): void => {};

/**
 * One board on one serial port. Create it with {@link BoardClient.open}. Public methods may be
 * called concurrently: they are queued and run one at a time, and each sends one request at a
 * time (PROTOCOL.md 4.1). Every failure is a {@link BoardError} (argument mistakes: RangeError).
 *
 * Timers: request timeouts keep the process alive while a caller waits; the background ones
 * (reopening the port, probing with HELLO) are unref'd, and close() clears them all.
 */
export class BoardClient extends EventEmitter<BoardClientEvents> {
  /** The port's path, as given (reopened by this name after it vanishes). */
  readonly path: string;
  private readonly baudRate: number;
  private readonly baseTimeoutMs: number;
  private readonly retries: number;
  private readonly intervalMs: number;
  private readonly pty: boolean;

  private port: SerialPort | undefined;
  private readonly decoder = new FrameDecoder();
  private readonly own: Mutable<
    Pick<
      LinkCounters,
      | 'framesOut'
      | 'bytesOut'
      | 'retries'
      | 'timeouts'
      | 'stale'
      | 'resetsSeen'
      | 'reconnects'
      | 'windowedChunks'
      | 'windowGaps'
    >
  > = {
    framesOut: 0,
    bytesOut: 0,
    retries: 0,
    timeouts: 0,
    stale: 0,
    resetsSeen: 0,
    reconnects: 0,
    windowedChunks: 0,
    windowGaps: 0,
  };
  /** The last seq used; a random start keeps a restarted host clear of an old one's answers. */
  private seq = randomInt(0x10000);
  /** The boot id of the last HELLO: what requests other than HELLO carry (4.3). */
  private addressedBoot = 0;
  /** The last boot id seen in any frame from the device. */
  private seenBoot = 0;
  /** The next request must be preceded by HELLO (after open, a timeout, a new boot id). */
  private needHello = true;
  /** The port was reopened and no HELLO has been answered since: `reconnect` is due. */
  private reopened = false;
  private lastHello: HelloInfo | undefined;
  /** The loaded model's size, once known (from an upload, or a GET_STATE's length). */
  private shape: { readonly sha256: string; readonly neurons: number } | undefined;
  private status: LinkStatus = { state: 'disconnected', since: Date.now(), reason: 'not open' };

  private waiter: Waiter | undefined;
  /** The UPLOAD_CHUNKs of a window in flight, oldest first (PROTOCOL.md 4.1). */
  private window: WindowSlot[] = [];
  /** The end of the queue of public calls. */
  private tail: Promise<void> = Promise.resolve();
  /** Public calls running or queued. */
  private busy = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  /** A background HELLO probe holds the queue. */
  private probing = false;
  /** Seqs of the HELLOs of the current probing session: a late answer to any of them counts. */
  private readonly probeSeqs = new Set<number>();
  /** Callers waiting for the port to be open again. */
  private readonly linkWaiters = new Set<() => void>();

  private constructor(path: string, options: BoardClientOptions) {
    super();
    this.path = path;
    this.baudRate = options.baudRate ?? DEFAULTS.baudRate;
    this.baseTimeoutMs = options.baseTimeoutMs ?? DEFAULTS.baseTimeoutMs;
    this.retries = options.retries ?? DEFAULTS.retries;
    this.intervalMs = options.reconnectIntervalMs ?? DEFAULTS.reconnectIntervalMs;
    this.pty = options.pty ?? isPtyPath(path);
    for (const [name, value] of [
      ['baudRate', this.baudRate],
      ['baseTimeoutMs', this.baseTimeoutMs],
      ['reconnectIntervalMs', this.intervalMs],
    ] as const)
      if (!Number.isFinite(value) || value <= 0)
        throw new RangeError(`BoardClient ${name}: ${value} is not a positive number`);
    if (!Number.isInteger(this.retries) || this.retries < 0)
      throw new RangeError(`BoardClient retries: ${this.retries} is not an integer ≥ 0`);
  }

  /**
   * Opens the port, sends a lone `0x00` (cutting off whatever the device's receiver holds) and
   * HELLO, and resolves once the device answered. Rejects with `EDISCONNECTED` when the port
   * cannot be opened, `ETIMEDOUT` when the device does not answer; nothing is left open then.
   */
  static async open(path: string, options: BoardClientOptions = {}): Promise<BoardClient> {
    const client = new BoardClient(path, options);
    try {
      client.attach(await client.openPort());
      client.write(Buffer.of(0), false);
      await client.exclusive('HELLO', () => client.helloExchange());
    } catch (err) {
      await client.close();
      throw err;
    }
    return client;
  }

  /** The device's latest HELLO answer (every HELLO updates it: reconnects and probes too). */
  get hello(): HelloInfo {
    // open() resolves only after a HELLO was answered, so this is always set for callers.
    return this.lastHello!;
  }

  /** The last boot id seen in any frame from the device: it changes when the device resets. */
  get bootId(): number {
    return this.seenBoot;
  }

  /** The state of the link, as far as the client knows without asking. */
  get link(): LinkStatus {
    return this.status;
  }

  /** A snapshot of the link counters. */
  counters(): LinkCounters {
    const d = this.decoder.counters;
    return {
      ...this.own,
      framesIn: d.framesIn,
      bytesIn: d.bytesIn,
      crcErrors: d.crcErrors,
      framingErrors: d.framingErrors,
      resyncs: d.resyncs,
    };
  }

  /** Asks HELLO: what the device is, its limits, its model and upload. Updates {@link hello}. */
  info(): Promise<HelloInfo> {
    return this.exclusive('HELLO', () => this.helloExchange());
  }

  /** Sends `bytes` with PING, checks they come back, and resolves with the round trip in ms. */
  ping(bytes: Uint8Array = EMPTY): Promise<number> {
    return this.exclusive('PING', async () => {
      if (bytes.length > this.maxPayload())
        throw new RangeError(
          `PING of ${bytes.length} bytes: the device takes at most ${this.maxPayload()}`,
        );
      const start = performance.now();
      await this.request(
        {
          type: MessageType.PING,
          payload: bytes,
          note: `${bytes.length} bytes`,
          responseMax: bytes.length,
        },
        (payload, what) => {
          if (!Buffer.from(payload).equals(bytes))
            throw new PayloadError(`${what}: the bytes came back different`);
        },
      );
      return performance.now() - start;
    });
  }

  /** The device's counters since its boot (PROTOCOL.md section 5). */
  stats(): Promise<DeviceStats> {
    return this.exclusive('STATS', () =>
      this.request({ type: MessageType.STATS, payload: EMPTY, responseMax: STATS_SIZE }, (p) =>
        decodeStats(p),
      ),
    );
  }

  /**
   * RESET. `state`: the reservoir state to zero, the model stays. `reboot`: the device answers,
   * then reboots; this resolves once it answered HELLO with its new boot id (and emitted `reset`).
   */
  reset(what: 'state' | 'reboot'): Promise<void> {
    return this.exclusive('RESET', async () => {
      const before = this.seenBoot;
      try {
        await this.request(
          { type: MessageType.RESET, payload: encodeReset(what), note: what, responseMax: 0 },
          noop,
        );
      } catch (err) {
        // A retry of RESET reboot whose first answer was lost reaches the rebooted device, which
        // no longer remembers it and answers E_BOOT: the reboot asked for has happened.
        if (!(what === 'reboot' && err instanceof BoardError && err.code === 'E_BOOT')) throw err;
      }
      if (what !== 'reboot') return;
      this.needHello = true;
      this.shape = undefined;
      // "Answers, then reboots": a HELLO may still reach the old boot. Ask until the id changes.
      for (let attempt = 0; ; attempt++) {
        const info = await this.helloExchange();
        if (info.bootId !== before) return;
        if (attempt >= this.retries)
          throw new BoardError(
            'EPROTO',
            `${this.path} answered RESET reboot but still has boot id ${hex(before)} after ${attempt + 1} HELLOs`,
          );
        await sleep(this.intervalMs);
      }
    });
  }

  /**
   * Uploads a model image (PROTOCOL.md 3.2, section 6) and resolves once the device loaded it
   * (its state is then zero). Chunks are as big as `max_payload` allows, halved (down to 32
   * bytes) after a chunk timed out and doubled back after 8 answered in a row, so an upload
   * gets through a noisy line that corrupts most large frames. Interrupted uploads are
   * resumed from the offset the device has: after a timeout, after the port vanished and came
   * back (waiting for it), and from 0 after a device reset. It gives up when `retries + 1` rounds
   * in a row make no progress, or after `4·(retries + 1)` rounds in all; device refusals
   * (E_TOOBIG, E_HASH, E_MODEL, E_LIMIT, ...) fail at once.
   *
   * @param onProgress called with the bytes the device has and the total, after every answer.
   */
  upload(image: Uint8Array, onProgress?: (sent: number, total: number) => void): Promise<void> {
    return this.exclusive('upload', async () => {
      const size = image.length;
      const sha = imageSha256(image);
      let neurons: number | undefined;
      try {
        neurons = imageShape(image).neurons;
      } catch {
        neurons = undefined; // not an image this host understands: the device judges it (E_MODEL)
      }
      let stalls = 0;
      // Chunks as big as max_payload allows; halved after a chunk timed out (noise hits big
      // frames first), doubled again after a run of answered ones.
      const fullChunk = () => this.maxPayload() - 4;
      let chunkSize = fullChunk();
      let streak = 0;
      // Up to rx_window chunks in flight while the link is clean (4.1); one by one after a gap.
      let windowed = true;
      for (let round = 1; ; round++) {
        let progressed = false;
        let inChunk = false;
        try {
          this.shape = undefined; // UPLOAD_BEGIN of a new upload unloads the model
          let offset = await this.request(
            {
              type: MessageType.UPLOAD_BEGIN,
              payload: encodeUploadBegin(size, sha),
              note: `${size} bytes, sha256 ${sha.slice(0, 12)}…`,
              responseMax: 4,
            },
            (p, what) => this.checkOffset(decodeOffset(p, what), size, what),
          );
          onProgress?.(offset, size);
          let idle = 0;
          while (offset < size) {
            chunkSize = Math.min(chunkSize, fullChunk());
            if (windowed && this.rxWindow() > 1) {
              const r = await this.windowedChunks(image, offset, chunkSize, onProgress);
              if (r.offset > offset) progressed = true;
              offset = r.offset;
              if (!r.clean) windowed = false; // one by one until a streak of answers again
              streak = 0;
              continue;
            }
            const chunk = image.subarray(offset, Math.min(size, offset + chunkSize));
            inChunk = true;
            const next = await this.request(
              {
                type: MessageType.UPLOAD_CHUNK,
                payload: encodeUploadChunk(offset, chunk),
                note: `offset ${offset}, ${chunk.length} bytes`,
                responseMax: 4,
              },
              (p, what) => this.checkOffset(decodeOffset(p, what), size, what),
            );
            inChunk = false;
            if (++streak >= CHUNK_GROWTH_STREAK) {
              windowed = chunkSize === fullChunk();
              chunkSize = Math.min(fullChunk(), 2 * chunkSize);
              streak = 0;
            }
            if (next > offset) {
              progressed = true;
              idle = 0;
            } else if (++idle > this.retries) {
              throw new BoardError(
                'EPROTO',
                `${this.path} does not take the upload's bytes: it stays at offset ${next} of ${size}`,
              );
            }
            offset = next;
            onProgress?.(offset, size);
          }
          const loaded = await this.request(
            { type: MessageType.UPLOAD_DONE, payload: EMPTY, responseMax: SHA256_SIZE },
            (p, what) => decodeSha256(p, what),
          );
          if (loaded !== sha)
            throw new BoardError(
              'EPROTO',
              `${this.path} finished the upload of ${sha.slice(0, 12)}… but reports ${loaded.slice(0, 12)}… loaded`,
            );
          if (neurons !== undefined) this.shape = { sha256: sha, neurons };
          return;
        } catch (err) {
          if (!(err instanceof BoardError) || !RESUMABLE.has(err.code)) throw err;
          if (inChunk && err.code === 'ETIMEDOUT') {
            chunkSize = Math.max(MIN_UPLOAD_CHUNK, chunkSize >> 1);
            streak = 0;
          }
          windowed = false;
          stalls = progressed ? 0 : stalls + 1;
          if (stalls > this.retries || round >= 4 * (this.retries + 1))
            throw new BoardError(
              err.code,
              `upload of ${size} bytes to ${this.path} gave up after ${plural(round, 'round')}: ${err.message}`,
              err.detail,
              { cause: err },
            );
          if (err.code === 'EDISCONNECTED') await this.waitConnected(this.linkWaitMs());
        }
      }
    });
  }

  /**
   * UPLOAD_CHUNKs with up to `rx_window` in flight (PROTOCOL.md 4.1), from `offset` on: while one
   * is answered the next ones are already on the wire, so a fast link is not idle for a round
   * trip per chunk. Answers come in order. At the first gap (no answer within the timeout, a
   * damaged frame, an ERROR such as the E_OFFSET that follows a lost chunk, a short offset) it
   * stops sending, gives up the chunks in flight (their late answers are stale, and a chunk the
   * device did take only moves its offset on) and returns the offset the device confirmed last;
   * the caller goes on one chunk at a time from there, which is always right: a chunk below the
   * device's offset changes nothing and is answered with the offset it has.
   */
  private async windowedChunks(
    image: Uint8Array,
    offset: number,
    chunkSize: number,
    onProgress: ((sent: number, total: number) => void) | undefined,
  ): Promise<{ offset: number; clean: boolean }> {
    const size = image.length;
    const limit = this.rxWindow();
    const timeoutMs = this.timeoutFor(chunkSize + 4, 4);
    let next = offset;
    let acked = offset;
    // The chunks sent and not yet looked at, oldest first (this.window holds those unanswered).
    const sent: WindowSlot[] = [];
    try {
      while (acked < size) {
        while (sent.length < limit && next < size) {
          this.checkSendable('UPLOAD_CHUNK');
          if (this.needHello) return { offset: acked, clean: false };
          const end = Math.min(size, next + chunkSize);
          if (sent.length > 0) this.own.windowedChunks++;
          sent.push(this.sendWindowed(encodeUploadChunk(next, image.subarray(next, end)), end));
          next = end;
        }
        const slot = sent.shift();
        if (!slot) return { offset: acked, clean: false };
        const timer = setTimeout(() => this.loseWindow(), timeoutMs);
        const outcome = await slot.answer;
        clearTimeout(timer);
        if (outcome === 'lost' || outcome.type !== (MessageType.UPLOAD_CHUNK | RESPONSE_FLAG))
          return this.windowGap(acked);
        this.setStatus('up');
        let got: number;
        try {
          got = this.checkOffset(
            decodeOffset(outcome.payload, 'UPLOAD_CHUNK'),
            size,
            'UPLOAD_CHUNK',
          );
        } catch {
          return this.windowGap(acked); // one by one, where request() reports it
        }
        acked = Math.max(acked, got);
        onProgress?.(acked, size);
        if (got < slot.end) return this.windowGap(acked);
      }
      return { offset: acked, clean: true };
    } finally {
      this.loseWindow();
    }
  }

  private windowGap(offset: number): { offset: number; clean: false } {
    this.own.windowGaps++;
    return { offset, clean: false };
  }

  private sendWindowed(payload: Buffer, end: number): WindowSlot {
    const seq = this.nextSeq();
    let settle!: (outcome: Frame | 'lost') => void;
    const answer = new Promise<Frame | 'lost'>((resolve) => (settle = resolve));
    const slot = { seq, end, answer, settle };
    this.window.push(slot);
    this.write(
      encodeFrame(
        {
          version: PROTOCOL_VERSION,
          type: MessageType.UPLOAD_CHUNK,
          seq,
          flags: 0,
          boot: this.addressedBoot,
          payload,
        },
        { leadingZero: true },
      ),
    );
    return slot;
  }

  /** How many UPLOAD_CHUNKs the device takes in flight (HELLO `rx_window`). */
  private rxWindow(): number {
    return this.lastHello?.limits.rxWindow ?? 1;
  }

  /**
   * Runs `samples` input samples (`input` holds `samples · S · I` counts) and returns their
   * spikes and features. Split into as many STEP frames as `max_payload` requires; if one of them
   * fails, the device has run some of the samples (the caller restores the state it wants). The
   * model's size comes from the last upload, or from one GET_STATE when this client did not
   * upload it.
   */
  step(input: Uint8Array, samples: number): Promise<StepResult> {
    return this.exclusive('STEP', async () => {
      if (!Number.isInteger(samples) || samples < 1)
        throw new RangeError(`step: samples must be a positive integer, got ${samples}`);
      if (input.length === 0 || input.length % samples !== 0)
        throw new RangeError(
          `step: ${input.length} input counts do not split into ${samples} samples`,
        );
      const perSample = input.length / samples;
      const neurons = await this.modelNeurons();
      const max = this.maxPayload();
      const perFrame = Math.min(
        0xffff,
        Math.floor((max - 2) / perSample),
        Math.floor((max - 4) / (4 * neurons)),
      );
      if (perFrame < 1)
        throw new BoardError(
          'E_LENGTH',
          `one sample (${perSample} input counts, a ${stepResponseSize(1, neurons)}-byte answer) does not fit the ${max}-byte payload of ${this.path}`,
        );
      const width = 2 * neurons;
      // Allocated only when the run takes more than one frame (a tick's sample takes one).
      let features: Int16Array | undefined;
      let spikes = 0;
      for (let done = 0; done < samples;) {
        const k = Math.min(perFrame, samples - done);
        const r = await this.request(
          {
            type: MessageType.STEP,
            payload: encodeStep(k, input.subarray(done * perSample, (done + k) * perSample)),
            note: plural(k, 'sample'),
            responseMax: stepResponseSize(k, neurons),
          },
          (p) => decodeStepResponse(p, k, neurons),
        );
        if (k === samples) return r; // one frame: its features are the result, no copy
        features ??= new Int16Array(samples * width);
        features.set(r.features, done * width);
        spikes += r.spikes;
        done += k;
      }
      return { spikes, features: features! };
    });
  }

  /** GET_STATE: the canonical state, 7·N bytes. */
  getState(): Promise<Uint8Array> {
    return this.exclusive('GET_STATE', () => this.readState());
  }

  /** SET_STATE: replaces the state (canonical encoding; the device checks the length). */
  setState(state: Uint8Array): Promise<void> {
    return this.exclusive('SET_STATE', () =>
      this.request(
        {
          type: MessageType.SET_STATE,
          payload: state,
          note: `${state.length} bytes`,
          responseMax: 0,
        },
        noop,
      ),
    );
  }

  /**
   * Closes the port and stops reconnecting and probing. The call in flight and queued calls fail
   * with `ECLOSED`. Idempotent; resolves once the port is closed.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  // -------------------------------------------------------------------------------------------
  // The port

  private openPort(): Promise<SerialPort> {
    return new Promise((resolve, reject) => {
      const fail = (err: unknown) =>
        reject(
          new BoardError(
            'EDISCONNECTED',
            `cannot open ${this.path}: ${messageOf(err)}`,
            undefined,
            {
              cause: err,
            },
          ),
        );
      try {
        const port = new SerialPort({ path: this.path, baudRate: this.baudRate, autoOpen: false });
        port.open((err) => (err ? fail(err) : resolve(port)));
      } catch (err) {
        fail(err);
      }
    });
  }

  private attach(port: SerialPort): void {
    this.port = port;
    fixPollerInterest(port); // else a write that meets a full pty can hang for good
    this.decoder.clear();
    port.on('data', (chunk: Buffer) => {
      if (port === this.port) this.onData(chunk);
    });
    port.on('close', (err: Error | null) =>
      this.portGone(port, err ?? new Error(`${this.path} closed`)),
    );
    // Also keeps a port's late errors from becoming unhandled 'error' events.
    port.on('error', (err: Error) => this.portGone(port, err));
    for (const wake of [...this.linkWaiters]) wake();
  }

  /** PROTOCOL.md 4.5: fail what is in flight, reopen the same path every interval. */
  private portGone(port: SerialPort, err: Error): void {
    if (port !== this.port) return;
    this.port = undefined;
    this.needHello = true;
    this.decoder.clear();
    this.setStatus('disconnected', err.message);
    this.loseWindow();
    this.waiter?.fail(
      new BoardError(
        'EDISCONNECTED',
        `${this.path} disconnected while waiting for the answer to ${this.waiter.what}: ${err.message}`,
        undefined,
        { cause: err },
      ),
    );
    if (port.isOpen) port.close(noop);
    process.nextTick(() => this.emit('disconnect', err));
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.reopenTimer || this.closed) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      void this.reopen();
    }, this.intervalMs).unref();
  }

  private async reopen(): Promise<void> {
    if (this.closed || this.port) return;
    let port: SerialPort;
    try {
      port = await this.openPort();
    } catch {
      this.scheduleReopen(); // not back yet
      return;
    }
    if (this.closed) {
      port.close(noop);
      return;
    }
    this.attach(port);
    this.reopened = true;
    this.setStatus('disconnected', `${this.path} reopened, waiting for HELLO`);
    this.write(Buffer.of(0), false);
    this.scheduleProbe(0);
  }

  /** Resolves when the port is open again, or after `ms`. */
  private waitConnected(ms: number): Promise<void> {
    if (this.port || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.linkWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.linkWaiters.add(done);
    });
  }

  /** How long an operation that can resume waits for a vanished port to come back. */
  private linkWaitMs(): number {
    return (this.retries + 1) * this.baseTimeoutMs + 2 * this.intervalMs;
  }

  private write(bytes: Buffer, isFrame = true): void {
    const port = this.port;
    if (!port) return;
    if (isFrame) this.own.framesOut++;
    this.own.bytesOut += bytes.length;
    port.write(bytes, (err) => {
      if (err) this.portGone(port, err);
    });
  }

  private setStatus(state: LinkStatus['state'], reason?: string): void {
    if (state === this.status.state && state === 'up') return;
    this.status = { state, since: Date.now(), ...(reason === undefined ? {} : { reason }) };
  }

  // -------------------------------------------------------------------------------------------
  // Frames in

  private onData(chunk: Buffer): void {
    const d = this.decoder.counters;
    const damagedBefore = d.crcErrors + d.framingErrors;
    this.decoder.feed(chunk, (frame) => this.onFrame(frame));
    // Fast retransmit: a damaged frame while an answer is awaited is most likely that answer.
    // Resending at once (the identical bytes: the device answers a duplicate from memory, 4.2)
    // saves waiting out the timeout on a noisy line.
    if (d.crcErrors + d.framingErrors > damagedBefore) {
      this.waiter?.settle('damaged');
      this.loseWindow(); // a window is not repaired in place: the upload goes on one by one
    }
  }

  private onFrame(frame: Frame): void {
    const current = frame.version === PROTOCOL_VERSION;
    if (current) this.noteBoot(frame.boot);
    const w = this.waiter;
    if (w && current && w.accepts(frame)) {
      w.settle(frame);
      return;
    }
    const i = current ? this.window.findIndex((slot) => slot.seq === frame.seq) : -1;
    const answers = frame.type === (MessageType.UPLOAD_CHUNK | RESPONSE_FLAG);
    if (i < 0 || !(answers || frame.type === MessageType.ERROR)) {
      this.own.stale++;
      return;
    }
    // Answers come in order: chunks before this one that got none were lost on the way.
    const lost = this.window.splice(0, i + 1);
    const slot = lost.pop()!;
    for (const l of lost) l.settle('lost');
    slot.settle(frame);
  }

  /** Gives up every chunk of the window in flight: their late answers will be stale. */
  private loseWindow(): void {
    const lost = this.window;
    this.window = [];
    for (const slot of lost) slot.settle('lost');
  }

  /** PROTOCOL.md 4.3: a boot id other than the last one seen means the device reset. */
  private noteBoot(boot: number): void {
    if (boot === 0 || boot === this.seenBoot) return;
    const previous = this.seenBoot;
    this.seenBoot = boot;
    if (previous === 0) return;
    this.own.resetsSeen++;
    this.needHello = true;
    this.shape = undefined;
    process.nextTick(() => this.emit('reset', { previousBootId: previous, bootId: boot }));
  }

  // -------------------------------------------------------------------------------------------
  // Requests

  /** Runs public calls one at a time, in the order they were made. */
  private exclusive<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.busy++;
    // A background probe in flight gives way at once: the caller says HELLO itself if needed.
    if (this.probing) this.waiter?.settle('timeout');
    const run = this.tail.then(() => {
      if (this.closed) throw this.closedError(what);
      return fn();
    });
    this.tail = run.then(noop, noop).finally(() => {
      if (--this.busy === 0) this.scheduleProbe(this.intervalMs);
    });
    return run;
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) & 0xffff;
    return this.seq;
  }

  private maxPayload(): number {
    return this.lastHello?.limits.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  }

  /** PROTOCOL.md 4.4: `base + 2·wire(request + response)`, wire 0 on a pseudo-terminal. */
  private timeoutFor(requestPayload: number, responseMax: number): number {
    const bytes = wireSize(requestPayload) + wireSize(Math.max(responseMax, ERROR_MAX_PAYLOAD));
    const wireMs = this.pty ? 0 : (2 * 10 * bytes * 1000) / this.baudRate;
    return Math.ceil(this.baseTimeoutMs + wireMs);
  }

  private closedError(what: string): BoardError {
    return new BoardError('ECLOSED', `${what}: the board client for ${this.path} is closed`);
  }

  /** Throws unless a request can be sent now. */
  private checkSendable(what: string): void {
    if (this.closed) throw this.closedError(what);
    if (!this.port)
      throw new BoardError(
        'EDISCONNECTED',
        `cannot send ${what}: ${this.path} is disconnected (${this.status.reason ?? 'gone'}); reopening every ${this.intervalMs} ms`,
      );
  }

  /**
   * Sends a request and waits for its answer: the identical bytes up to `retries` more times on
   * timeouts (4.2, 4.4), HELLO first when the link needs it. Resolves with the accepted frame,
   * which may be an ERROR.
   */
  private async transact(req: Request): Promise<{ frame: Frame; what: string }> {
    const name = messageTypeName(req.type);
    this.checkSendable(req.note ? `${name} (${req.note})` : name);
    if (this.needHello && req.type !== MessageType.HELLO) await this.helloExchange();
    const seq = this.nextSeq();
    const what = `${name} seq ${seq}${req.note ? ` (${req.note})` : ''}`;
    const bytes = encodeFrame(
      {
        version: PROTOCOL_VERSION,
        type: req.type,
        seq,
        flags: 0,
        boot: req.type === MessageType.HELLO ? 0 : this.addressedBoot,
        payload: req.payload,
      },
      { leadingZero: true },
    );
    const timeoutMs = this.timeoutFor(req.payload.length, req.responseMax);
    const answerType = req.type | RESPONSE_FLAG;
    const accepts = (f: Frame) =>
      f.seq === seq && (f.type === answerType || f.type === MessageType.ERROR);
    let damaged = 0;
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      this.checkSendable(what);
      if (attempt > 0) this.own.retries++;
      const answer = this.awaitAnswer(what, accepts, timeoutMs);
      this.write(bytes);
      const outcome = await answer;
      if (outcome === 'damaged') damaged++;
      else if (outcome !== 'timeout') {
        this.setStatus('up');
        return { frame: outcome, what };
      }
    }
    this.own.timeouts++;
    this.needHello = true;
    const message =
      `no answer to ${what} from ${this.path} within ${timeoutMs} ms after ${plural(this.retries + 1, 'attempt')}` +
      (damaged ? ` (${plural(damaged, 'answer')} arrived damaged)` : '');
    this.setStatus('silent', message);
    this.scheduleProbe(this.intervalMs);
    throw new BoardError('ETIMEDOUT', message);
  }

  private awaitAnswer(
    what: string,
    accepts: (frame: Frame) => boolean,
    timeoutMs: number,
  ): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.waiter === waiter) this.waiter = undefined;
        resolve('timeout');
      }, timeoutMs);
      const waiter: Waiter = {
        what,
        accepts,
        settle: (outcome) => {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve(outcome);
        },
        fail: (err) => {
          clearTimeout(timer);
          this.waiter = undefined;
          reject(err);
        },
      };
      this.waiter = waiter;
    });
  }

  /**
   * A request whose answer is decoded by `decode`: an ERROR answer becomes a BoardError with the
   * device's code; a payload `decode` finds wrong (a PayloadError) becomes `EPROTO`.
   */
  private async request<T>(
    req: Request,
    decode: (payload: Uint8Array, what: string) => T,
  ): Promise<T> {
    const { frame, what } = await this.transact(req);
    if (frame.type === MessageType.ERROR) throw this.deviceError(frame.payload, what);
    try {
      return decode(frame.payload, what);
    } catch (err) {
      if (err instanceof PayloadError)
        throw new BoardError(
          'EPROTO',
          `${this.path} answered ${what} wrongly: ${err.message}`,
          undefined,
          {
            cause: err,
          },
        );
      throw err;
    }
  }

  private deviceError(payload: Uint8Array, what: string): BoardError {
    let e;
    try {
      e = decodeError(payload);
    } catch (err) {
      return new BoardError('EPROTO', `${this.path} answered ${what} with ${messageOf(err)}`);
    }
    if (e.name === 'E_BOOT') this.needHello = true; // the new boot id is in the header, noted
    const label = e.name ?? `unknown error code ${e.code}`;
    return new BoardError(
      e.name ?? 'EPROTO',
      `${this.path} refused ${what}: ${label} (detail ${e.detail})${e.text ? `: ${e.text}` : ''}`,
      e.detail,
    );
  }

  private checkOffset(offset: number, size: number, what: string): number {
    if (offset > size)
      throw new PayloadError(`${what}: offset ${offset} is past the image's ${size} bytes`);
    return offset;
  }

  private async helloExchange(): Promise<HelloInfo> {
    const info = await this.request(
      {
        type: MessageType.HELLO,
        payload: EMPTY,
        responseMax: Math.max(HELLO_SIZE, DEFAULT_MAX_PAYLOAD),
      },
      (p) => decodeHello(p),
    );
    this.acceptHello(info);
    return info;
  }

  private acceptHello(info: HelloInfo): void {
    this.noteBoot(info.bootId);
    this.lastHello = info;
    this.addressedBoot = info.bootId;
    this.needHello = false;
    this.probeSeqs.clear();
    this.decoder.maxPayload = info.limits.maxPayload;
    if (!info.modelLoaded || (this.shape && this.shape.sha256 !== info.modelSha256))
      this.shape = undefined;
    this.setStatus('up');
    if (this.reopened) {
      this.reopened = false;
      this.own.reconnects++;
      process.nextTick(() => this.emit('reconnect', info));
    }
  }

  /** PROTOCOL.md 4.4: after a failure, HELLO every interval until the device answers. */
  private scheduleProbe(delayMs: number): void {
    if (this.probeTimer || this.closed || !this.port || !this.needHello) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      void this.probe();
    }, delayMs).unref();
  }

  private async probe(): Promise<void> {
    // A running call says HELLO itself when it needs to; when the queue empties, probing resumes.
    if (this.busy > 0 || this.closed || !this.port || !this.needHello) return;
    try {
      await this.exclusive('HELLO probe', async () => {
        if (!this.needHello || !this.port) return;
        const seq = this.nextSeq();
        this.probeSeqs.add(seq);
        const answerType = MessageType.HELLO | RESPONSE_FLAG;
        const answer = this.awaitAnswer(
          `HELLO seq ${seq} (probe)`,
          (f) => f.type === answerType && this.probeSeqs.has(f.seq),
          this.intervalMs,
        );
        this.write(
          encodeFrame(
            {
              version: PROTOCOL_VERSION,
              type: MessageType.HELLO,
              seq,
              flags: 0,
              boot: 0,
              payload: EMPTY,
            },
            { leadingZero: true },
          ),
        );
        this.probing = true;
        const outcome = await answer.finally(() => (this.probing = false));
        if (typeof outcome === 'object') this.acceptHello(decodeHello(outcome.payload));
      });
    } catch {
      // Unanswered, disconnected or a bad answer: the normal course while the device is away.
    }
  }

  /** The loaded model's neuron count: known from the upload, or learnt from GET_STATE. */
  private async modelNeurons(): Promise<number> {
    if (this.shape) return this.shape.neurons;
    await this.readState();
    return this.shape!.neurons;
  }

  private async readState(): Promise<Uint8Array> {
    const shape = this.shape;
    const state = await this.request(
      {
        type: MessageType.GET_STATE,
        payload: EMPTY,
        responseMax: shape ? STATE_BYTES_PER_NEURON * shape.neurons : this.maxPayload(),
      },
      (p, what) => {
        const n = p.length / STATE_BYTES_PER_NEURON;
        if (shape ? n !== shape.neurons : !Number.isInteger(n) || n < 2)
          throw new PayloadError(
            `${what}: ${p.length} bytes is not the state of ${shape ? `${shape.neurons} neurons (${STATE_BYTES_PER_NEURON * shape.neurons} bytes)` : 'a model (7 bytes per neuron, at least 2 neurons)'}`,
          );
        return Uint8Array.from(p);
      },
    );
    this.shape ??= {
      sha256: this.lastHello?.modelSha256 ?? '',
      neurons: state.length / STATE_BYTES_PER_NEURON,
    };
    return state;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reopenTimer);
    clearTimeout(this.probeTimer);
    this.reopenTimer = this.probeTimer = undefined;
    this.setStatus('closed', 'closed');
    this.waiter?.fail(this.closedError(this.waiter.what));
    this.loseWindow();
    for (const wake of [...this.linkWaiters]) wake();
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
