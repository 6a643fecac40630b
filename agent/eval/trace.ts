/**
 * Trace files (../../../shared/EVAL.md, "Input"): a CSV with a header, first column
 * `timestamp` in unix seconds, one column per series. Rows may be missing and timestamps may
 * jitter, so every column is resampled to a fixed step:
 *
 *   - the grid is aligned to the wall clock: step k covers [t0 + k·step, t0 + (k+1)·step) with
 *     t0 = ⌊first timestamp / step⌋·step;
 *   - the value of a step is the last value whose timestamp falls in it; a step with none
 *     carries the previous step's value forward; before a column's first value it is NaN;
 *   - an empty cell (or `NaN`) is a missing value: it neither sets nor clears the step.
 *
 * Rows must be in time order (equal timestamps are allowed, the later row wins): a row that
 * goes back in time is rejected with its file and line rather than sorted, because a live
 * agent sees values in arrival order and a shuffled file is more likely a broken export.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { SeriesInput } from './method.js';

/** A trace file that cannot be read; the message names file:line:column where it can. */
export class TraceError extends Error {
  readonly code = 'ETRACE';
}

/** `FILE` or `FILE:COL,COL` from the command line. */
export interface TraceSpec {
  readonly file: string;
  /** The target columns; undefined: every column but the timestamp and the covariates. */
  readonly columns?: readonly string[];
}

export interface TraceOptions {
  /** Seconds per resampled step. */
  readonly step: number;
  /** Columns passed to every method as exogenous inputs rather than scored as targets. */
  readonly covariates?: readonly string[];
}

/** A resampled trace: every column, on one grid. */
export interface ResampledTrace {
  readonly file: string;
  readonly step: number;
  readonly t0: number;
  readonly columns: readonly { readonly name: string; readonly values: Float64Array }[];
}

/** More steps than this means the timestamps are not seconds (or the step is far too small). */
const MAX_STEPS = 50_000_000;

/**
 * Splits `FILE:COL,COL`. A path that exists as given is a file even if it contains a colon;
 * otherwise the text after the last colon is the column list.
 */
export function parseTraceSpec(text: string): TraceSpec {
  const colon = text.lastIndexOf(':');
  if (colon <= 0 || existsSync(text)) return { file: text };
  const columns = text
    .slice(colon + 1)
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  if (columns.length === 0) return { file: text.slice(0, colon) };
  return { file: text.slice(0, colon), columns };
}

function splitLine(line: string): string[] {
  return line.split(',').map((f) => {
    const t = f.trim();
    return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
  });
}

/** Parses and resamples the text of a trace file; `file` is only used in messages. */
export function resampleTrace(text: string, file: string, step: number): ResampledTrace {
  if (!(Number.isInteger(step) && step > 0))
    throw new TypeError(`step: expected a positive integer number of seconds, got ${step}`);
  const lines = text.split('\n');
  let lineNo = 0;
  // The header: the first non-blank line.
  let header: string[] | undefined;
  while (lineNo < lines.length) {
    const line = lines[lineNo++]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    header = splitLine(line);
    break;
  }
  if (!header) throw new TraceError(`${file}: empty file, expected a header "timestamp,..."`);
  if (header[0] !== 'timestamp')
    throw new TraceError(
      `${file}:${lineNo}:1: expected a header whose first column is "timestamp", got "${header[0]}"`,
    );
  const names = header.slice(1);
  if (names.length === 0)
    throw new TraceError(`${file}:${lineNo}: the header names no series after "timestamp"`);
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (n === '') throw new TraceError(`${file}:${lineNo}:${i + 2}: empty column name`);
    if (seen.has(n)) throw new TraceError(`${file}:${lineNo}:${i + 2}: column "${n}" repeated`);
    seen.add(n);
  });

  const times: number[] = [];
  const cells: Float64Array[] = names.map(() => new Float64Array(lines.length));
  let prev = -Infinity;
  for (; lineNo < lines.length;) {
    const line = lines[lineNo++]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const fields = splitLine(line);
    if (fields.length !== header.length)
      throw new TraceError(
        `${file}:${lineNo}: expected ${header.length} fields like the header, got ${fields.length}`,
      );
    const ts = fields[0]!;
    const t = ts === '' ? NaN : Number(ts);
    if (!Number.isFinite(t))
      throw new TraceError(`${file}:${lineNo}:1: timestamp "${ts}" is not a number of seconds`);
    if (t < prev)
      throw new TraceError(
        `${file}:${lineNo}:1: timestamp ${ts} is before the previous row's ${prev}: rows must be in time order`,
      );
    prev = t;
    const row = times.length;
    times.push(t);
    for (let c = 0; c < names.length; c++) {
      const f = fields[c + 1]!;
      let v = NaN;
      if (f !== '' && f.toLowerCase() !== 'nan') {
        v = Number(f);
        if (!Number.isFinite(v))
          throw new TraceError(
            `${file}:${lineNo}:${c + 2}: "${f}" in column ${names[c]} is not a number`,
          );
      }
      cells[c]![row] = v;
    }
  }
  if (times.length === 0) throw new TraceError(`${file}: no data rows after the header`);

  const t0 = Math.floor(times[0]! / step) * step;
  const length = Math.floor((times[times.length - 1]! - t0) / step) + 1;
  if (length > MAX_STEPS)
    throw new TraceError(
      `${file}: the timestamps span ${length} steps of ${step} s; are they unix seconds?`,
    );
  const index = times.map((t) => Math.floor((t - t0) / step));
  const columns = names.map((name, c) => {
    const raw = cells[c]!;
    const values = new Float64Array(length).fill(NaN);
    for (let r = 0; r < times.length; r++) {
      const v = raw[r]!;
      if (!Number.isNaN(v)) values[index[r]!] = v;
    }
    for (let i = 1; i < length; i++) if (Number.isNaN(values[i]!)) values[i] = values[i - 1]!;
    return { name, values };
  });
  return { file, step, t0, columns };
}

/** Reads and resamples a trace file; TraceError if it cannot be read or has a bad row. */
export function readTraceFile(file: string, step: number): ResampledTrace {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new TraceError(`${file}: cannot read: ${e.code ?? e.message}`);
  }
  return resampleTrace(text, file, step);
}

/**
 * The target series of one trace file, each with the covariates present in that file (never
 * itself). Throws TraceError for an unreadable file, a bad row, or a selected column the file
 * does not have.
 */
export function readTrace(spec: TraceSpec, options: TraceOptions): SeriesInput[] {
  return seriesOf(readTraceFile(spec.file, options.step), spec, options.covariates ?? []);
}

/** Splits a resampled trace into targets and covariates as `spec` and `covariates` say. */
export function seriesOf(
  trace: ResampledTrace,
  spec: TraceSpec,
  covariates: readonly string[],
): SeriesInput[] {
  const byName = new Map(trace.columns.map((c) => [c.name, c]));
  const known = trace.columns.map((c) => c.name).join(', ');
  for (const c of spec.columns ?? [])
    if (!byName.has(c))
      throw new TraceError(`${trace.file}: no column "${c}" (the file has: ${known})`);
  const covs = trace.columns.filter((c) => covariates.includes(c.name));
  const targets = spec.columns
    ? spec.columns.map((c) => byName.get(c)!)
    : trace.columns.filter((c) => !covariates.includes(c.name));
  const base = path.basename(trace.file);
  return targets.map((t) => ({
    name: `${base}:${t.name}`,
    step: trace.step,
    t0: trace.t0,
    values: t.values,
    covariates: covs.filter((c) => c.name !== t.name),
  }));
}
