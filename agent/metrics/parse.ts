/**
 * Allocation-free scanning of kernel text files held in a Buffer. Every method advances
 * `pos`; numbers that are absent come back as NaN so a truncated line never throws.
 */
export class Scanner {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;

  reset(buf: Buffer, end: number, pos = 0): this {
    this.buf = buf;
    this.end = end;
    this.pos = pos;
    return this;
  }

  eof(): boolean {
    return this.pos >= this.end;
  }

  /** Skips spaces and tabs (not newlines). */
  skipBlanks(): void {
    const b = this.buf;
    let p = this.pos;
    while (p < this.end && (b[p] === 0x20 || b[p] === 0x09)) p++;
    this.pos = p;
  }

  /** Moves past the next newline (or to the end). */
  nextLine(): void {
    const i = this.buf.indexOf(0x0a, this.pos);
    this.pos = i < 0 || i >= this.end ? this.end : i + 1;
  }

  /** Whether the cursor sits at a newline or the end. */
  atEol(): boolean {
    return this.pos >= this.end || this.buf[this.pos] === 0x0a;
  }

  /** Moves to just after the next `ch` on this line; false (cursor at the newline) if none. */
  skipPast(ch: number): boolean {
    const b = this.buf;
    let p = this.pos;
    while (p < this.end) {
      const c = b[p];
      if (c === ch) {
        this.pos = p + 1;
        return true;
      }
      if (c === 0x0a) break;
      p++;
    }
    this.pos = p;
    return false;
  }

  /** Skips one whitespace-separated token on this line. */
  skipToken(): void {
    this.skipBlanks();
    const b = this.buf;
    let p = this.pos;
    while (p < this.end) {
      const c = b[p];
      if (c === 0x20 || c === 0x09 || c === 0x0a) break;
      p++;
    }
    this.pos = p;
  }

  /** An unsigned decimal integer after optional blanks; NaN if no digit. Exact below 2^53. */
  uint(): number {
    this.skipBlanks();
    const b = this.buf;
    let p = this.pos;
    let v = 0;
    const start = p;
    while (p < this.end) {
      const c = b[p]! - 0x30;
      if (c < 0 || c > 9) break;
      v = v * 10 + c;
      p++;
    }
    this.pos = p;
    if (p === start) return NaN;
    // Past 15 digits the running product rounds at each step: take the correctly rounded value.
    return p - start > 15 ? Number(b.toString('latin1', start, p)) : v;
  }

  /** A signed decimal integer after optional blanks (temperatures can be below zero). */
  int(): number {
    this.skipBlanks();
    if (this.buf[this.pos] === 0x2d) {
      this.pos++;
      return -this.uint();
    }
    return this.uint();
  }

  /** A non-negative decimal such as `0.39` or `12`; one rounding, so it equals parseFloat. */
  decimal(): number {
    const whole = this.uint();
    if (Number.isNaN(whole) || this.pos >= this.end || this.buf[this.pos] !== 0x2e) return whole;
    this.pos++;
    const b = this.buf;
    let p = this.pos;
    let num = whole;
    let den = 1;
    while (p < this.end) {
      const c = b[p]! - 0x30;
      if (c < 0 || c > 9) break;
      num = num * 10 + c;
      den *= 10;
      p++;
    }
    this.pos = p;
    return num / den;
  }

  /** Whether the bytes at the cursor equal `key` (the cursor does not move). */
  startsWith(key: Uint8Array): boolean {
    const n = key.length;
    if (this.pos + n > this.end) return false;
    const b = this.buf;
    const p = this.pos;
    for (let i = 0; i < n; i++) if (b[p + i] !== key[i]) return false;
    return true;
  }

  /** The text from the cursor up to (not including) `stop` or a blank/newline; moves past it. */
  word(stop = 0x20): string {
    this.skipBlanks();
    const b = this.buf;
    const start = this.pos;
    let p = start;
    while (p < this.end) {
      const c = b[p];
      if (c === stop || c === 0x20 || c === 0x09 || c === 0x0a) break;
      p++;
    }
    this.pos = p;
    return b.toString('utf8', start, p);
  }
}

export function bytes(s: string): Uint8Array {
  return Buffer.from(s, 'latin1');
}

const K_SOME = bytes('some');
const K_FULL = bytes('full');
const K_AVG10 = bytes('avg10=');
const K_TOTAL = bytes('total=');

/**
 * A PSI file (`some avg10=0.39 avg60=1.00 avg300=1.30 total=9629277` and a `full` line).
 * Writes some avg10, some total (µs), full avg10, full total into out[0..3]; NaN where a
 * line is absent (cpu has no `full` line before Linux 5.13).
 */
export function parsePressure(sc: Scanner, out: Float64Array): void {
  out.fill(NaN, 0, 4);
  while (!sc.eof()) {
    const base = sc.startsWith(K_SOME) ? 0 : sc.startsWith(K_FULL) ? 2 : -1;
    if (base >= 0) {
      sc.pos += 4;
      while (!sc.atEol()) {
        sc.skipBlanks();
        if (sc.startsWith(K_AVG10)) {
          sc.pos += 6;
          out[base] = sc.decimal();
        } else if (sc.startsWith(K_TOTAL)) {
          sc.pos += 6;
          out[base + 1] = sc.uint();
        } else {
          sc.skipToken();
        }
      }
    }
    sc.nextLine();
  }
}

const K_USAGE = bytes('usage_usec');

/** `usage_usec` from a cgroup's cpu.stat (µs of CPU time since the cgroup was created). */
export function parseCpuStatUsage(sc: Scanner): number {
  while (!sc.eof()) {
    const after = sc.pos + 10 < sc.end ? sc.buf[sc.pos + 10] : 0;
    if (sc.startsWith(K_USAGE) && (after === 0x20 || after === 0x09)) {
      sc.pos += 10;
      return sc.uint();
    }
    sc.nextLine();
  }
  return NaN;
}

const K_RBYTES = bytes('rbytes=');
const K_WBYTES = bytes('wbytes=');

/** Sums `rbytes=` and `wbytes=` over the devices of a cgroup's io.stat into out[0], out[1]. */
export function parseIoStat(sc: Scanner, out: Float64Array): void {
  let r = 0;
  let w = 0;
  while (!sc.eof()) {
    sc.skipToken(); // MAJ:MIN
    while (!sc.atEol()) {
      sc.skipBlanks();
      if (sc.startsWith(K_RBYTES)) {
        sc.pos += 7;
        r += sc.uint() || 0;
      } else if (sc.startsWith(K_WBYTES)) {
        sc.pos += 7;
        w += sc.uint() || 0;
      } else {
        sc.skipToken();
      }
    }
    sc.nextLine();
  }
  out[0] = r;
  out[1] = w;
}

const K_MAX = bytes('max');

/** memory.max and similar limits: a byte count, or `max` (unlimited) as +Infinity. */
export function parseLimit(sc: Scanner): number {
  sc.skipBlanks();
  if (sc.startsWith(K_MAX)) return Infinity;
  return sc.uint();
}
