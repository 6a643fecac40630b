/**
 * Splitting a byte stream into frames (PROTOCOL.md section 1): bytes up to each `0x00` are one
 * frame body; bodies that do not decode are dropped and counted; a body that grows past the
 * largest valid frame stops being buffered, and bytes are dropped up to the next `0x00`.
 *
 * {@link FrameDecoder} is the synchronous core (the board client feeds it from the port's
 * `data` events, so one decoder and its counters outlive reconnects); {@link FrameParser} wraps it
 * as a stream Transform for callers that pipe.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { cobsMaxEncodedLength } from './cobs.js';
import {
  DEFAULT_MAX_PAYLOAD,
  MAX_PAYLOAD_FIELD,
  decodeFrameBody,
  maxFrameSize,
  type Frame,
  type FrameRejection,
} from './frame.js';

/** What a decoder has seen, since it was created. */
export interface DecoderCounters {
  /** Valid frames emitted. */
  framesIn: number;
  /** Bytes fed, delimiters included. */
  bytesIn: number;
  /** Frames dropped because their CRC did not match. */
  crcErrors: number;
  /** Frames dropped for any other reason: COBS, short, length, oversize. */
  framingErrors: number;
  /** Good frames that came after discarded bytes: times the receiver had to find its way back. */
  resyncs: number;
  /** Bytes discarded (bad frames, overflow), delimiters not included. */
  discardedBytes: number;
}

/** Options of a {@link FrameDecoder} and a {@link FrameParser}. */
export interface FrameDecoderOptions {
  /**
   * The largest payload accepted (the peer's `max_payload`); bigger frames are dropped as
   * oversize. Default 256: what a host assumes before HELLO.
   */
  readonly maxPayload?: number;
}

/**
 * The synchronous frame splitter. Feed it chunks of any size; it calls back once per valid frame,
 * in order. It never throws on any input, and its memory is bounded by the largest valid frame.
 */
export class FrameDecoder {
  /** Counters since creation; see {@link DecoderCounters}. */
  readonly counters: DecoderCounters = {
    framesIn: 0,
    bytesIn: 0,
    crcErrors: 0,
    framingErrors: 0,
    resyncs: 0,
    discardedBytes: 0,
  };
  /** The last reason a frame was dropped, for diagnostics. */
  lastRejection: FrameRejection | undefined;
  private maxPayloadValue: number;
  private buf: Buffer;
  private fill = 0;
  /** Past the size limit: dropping bytes up to the next delimiter. */
  private dropping = false;
  /** Bytes discarded since the last good frame: the next good frame is a resync. */
  private discardedSinceGood = 0;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxPayloadValue = checkMaxPayload(options.maxPayload ?? DEFAULT_MAX_PAYLOAD);
    this.buf = Buffer.allocUnsafe(this.capacity());
  }

  /** The largest payload accepted. Raising it keeps a frame being buffered; lowering it too. */
  get maxPayload(): number {
    return this.maxPayloadValue;
  }

  set maxPayload(value: number) {
    this.maxPayloadValue = checkMaxPayload(value);
    const cap = this.capacity();
    if (cap > this.buf.length) {
      const bigger = Buffer.allocUnsafe(cap);
      this.buf.copy(bigger, 0, 0, this.fill);
      this.buf = bigger;
    } else if (this.fill > cap) {
      this.overflow();
    }
  }

  /** The encoded size past which a body cannot be a valid frame. */
  private capacity(): number {
    return cobsMaxEncodedLength(maxFrameSize(this.maxPayloadValue));
  }

  /**
   * Discards a partly received frame (counted as discarded bytes, not as an error): for a new
   * connection, whose first bytes have nothing to do with what the old one left.
   */
  clear(): void {
    this.discard(this.fill);
    this.fill = 0;
    this.dropping = false;
  }

  /** Feeds bytes; `onFrame` is called for every valid frame they complete, in order. */
  feed(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    this.counters.bytesIn += chunk.length;
    const cap = this.buf.length;
    let pos = 0;
    while (pos < chunk.length) {
      const zero = chunk.indexOf(0, pos);
      const end = zero < 0 ? chunk.length : zero;
      const run = end - pos;
      if (this.dropping) {
        this.discard(run);
      } else if (this.fill + run > cap) {
        // Too long to be a frame: count it once, keep dropping up to the next delimiter.
        this.discard(run);
        this.overflow();
      } else {
        this.buf.set(chunk.subarray(pos, end), this.fill);
        this.fill += run;
      }
      if (zero < 0) break;
      pos = zero + 1;
      if (this.dropping) this.dropping = false;
      else if (this.fill > 0) this.complete(onFrame);
      // An empty body (two delimiters in a row, or a lone leading 0x00) is ignored.
    }
  }

  private overflow(): void {
    this.discard(this.fill);
    this.fill = 0;
    this.dropping = true;
    this.counters.framingErrors++;
    this.lastRejection = 'oversize';
  }

  private discard(bytes: number): void {
    this.counters.discardedBytes += bytes;
    this.discardedSinceGood += bytes;
  }

  private complete(onFrame: (frame: Frame) => void): void {
    const size = this.fill;
    this.fill = 0;
    const result = decodeFrameBody(this.buf.subarray(0, size), this.maxPayloadValue);
    if (!result.ok) {
      this.discard(size);
      if (result.reason === 'crc') this.counters.crcErrors++;
      else this.counters.framingErrors++;
      this.lastRejection = result.reason;
      return;
    }
    this.counters.framesIn++;
    if (this.discardedSinceGood > 0) {
      this.counters.resyncs++;
      this.discardedSinceGood = 0;
    }
    onFrame(result.frame);
  }
}

function checkMaxPayload(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_PAYLOAD_FIELD)
    throw new RangeError(`maxPayload: ${value} is not an integer in 0…${MAX_PAYLOAD_FIELD}`);
  return value;
}

/**
 * The frame splitter as a stream: bytes in, {@link Frame} objects out (object-mode readable side).
 * Bad frames are dropped and counted in {@link FrameParser.counters}; the stream never errors
 * because of what it is fed.
 */
export class FrameParser extends Transform {
  private readonly decoder: FrameDecoder;

  constructor(options: FrameDecoderOptions = {}) {
    super({ readableObjectMode: true });
    this.decoder = new FrameDecoder(options);
  }

  /** Counters since creation (live: the same object is updated). */
  get counters(): Readonly<DecoderCounters> {
    return this.decoder.counters;
  }

  /** The largest payload accepted; see {@link FrameDecoder.maxPayload}. */
  get maxPayload(): number {
    return this.decoder.maxPayload;
  }

  set maxPayload(value: number) {
    this.decoder.maxPayload = value;
  }

  override _transform(
    chunk: unknown,
    _encoding: BufferEncoding,
    callback: TransformCallback,
  ): void {
    // With decodeStrings (the default) a writable in byte mode hands over Buffers only; anything
    // else is ignored rather than thrown on, so the parser never fails on its input.
    if (chunk instanceof Uint8Array) this.decoder.feed(chunk, (frame) => this.push(frame));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    // A body without its delimiter at the end of the stream is not a frame.
    this.decoder.clear();
    callback();
  }
}
