import path from 'node:path';
import {
  COVERAGE_TOLERANCE,
  METHODS,
  evaluate,
  parseTraceSpec,
  readTraceFile,
  seriesOf,
  type MeanScore,
  type Method,
  type SeriesInput,
} from '../eval/index.js';
import { parse, UsageError } from './args.js';

const BACKENDS = ['reference', 'native', 'onnx'] as const;

export const evalUsage = `usage:
  spikecap eval FILE[:COL,COL]... [--step 300] [--h 1,12,288] [--alpha 0.05] [--warmup-days 2]
                [--covariates COL,COL] [--methods A,B,...] [--backend reference|native|onnx]
                [--model FILE] [--json]
      replay trace files (header, timestamp in unix seconds, one column per series) through each
      method online and score it as EVAL.md defines: MASE against naive, coverage and
      slack of the upper bound, per horizon (in steps), after the warm-up days of each series.
      Series are resampled to --step seconds (the last value in a step, carried forward over
      gaps). FILE:COL,COL scores only those columns; --covariates columns are inputs, not targets.
      --methods (default: all): ${[...METHODS.keys()].join(', ')}.
      --backend (default native) and --model go to the spiking forecaster.
      --json: per-series rows and the mean rows (series "mean").`;

function positiveInteger(text: string, option: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) < 1)
    throw new UsageError(`${option}: expected a positive integer, got "${text}"`);
  return Number(text);
}

function list(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

interface EvalArgs {
  specs: ReturnType<typeof parseTraceSpec>[];
  step: number;
  horizons: number[];
  alpha: number;
  warmupDays: number;
  covariates: string[];
  methods: string[];
  backend: string;
  model: string | undefined;
  json: boolean;
}

function parseEvalArgs(argv: string[]): EvalArgs {
  const { values, positionals } = parse(
    argv,
    {
      step: { type: 'string' },
      h: { type: 'string' },
      alpha: { type: 'string' },
      'warmup-days': { type: 'string' },
      covariates: { type: 'string' },
      methods: { type: 'string' },
      backend: { type: 'string' },
      model: { type: 'string' },
      json: { type: 'boolean' },
    },
    true,
  );
  if (positionals.length === 0) throw new UsageError('eval needs at least one trace FILE');
  const step = positiveInteger(values.step ?? '300', '--step');
  if (step > 86_400) throw new UsageError(`--step: at most 86400 s (a day), got ${step}`);
  const hText = values.h ?? '1,12,288';
  const horizons = list(hText).map((h) => positiveInteger(h, '--h'));
  if (horizons.length === 0) throw new UsageError(`--h: expected horizons like 1,12,288`);
  if (new Set(horizons).size !== horizons.length)
    throw new UsageError(`--h: a horizon is repeated in "${hText}"`);
  const alphaText = values.alpha ?? '0.05';
  const alpha = Number(alphaText);
  if (!/^[0-9.eE+-]+$/.test(alphaText) || !(alpha > 0 && alpha < 1))
    throw new UsageError(
      `--alpha: expected a number between 0 and 1 (exclusive), got "${alphaText}"`,
    );
  const warmText = values['warmup-days'] ?? '2';
  const warmupDays = Number(warmText);
  if (!/^[0-9.]+$/.test(warmText) || !(warmupDays >= 0))
    throw new UsageError(`--warmup-days: expected a number of days ≥ 0, got "${warmText}"`);
  const methods = values.methods === undefined ? [...METHODS.keys()] : list(values.methods);
  if (methods.length === 0) throw new UsageError('--methods: expected method names');
  for (const m of methods)
    if (!METHODS.has(m))
      throw new UsageError(
        `--methods: unknown method "${m}" (known: ${[...METHODS.keys()].join(', ')})`,
      );
  if (new Set(methods).size !== methods.length)
    throw new UsageError(`--methods: a method is repeated in "${values.methods}"`);
  const backend = values.backend ?? 'native';
  if (!(BACKENDS as readonly string[]).includes(backend))
    throw new UsageError(`--backend: expected one of ${BACKENDS.join(', ')}, got "${backend}"`);
  return {
    specs: positionals.map(parseTraceSpec),
    step,
    horizons,
    alpha,
    warmupDays,
    covariates: values.covariates === undefined ? [] : list(values.covariates),
    methods,
    backend,
    model: values.model,
    json: values.json === true,
  };
}

/** A progress bar on stderr, redrawn at most every 100 ms; only on a terminal. */
function progressBar(): { update(done: number, total: number): void; end(): void } {
  const start = performance.now();
  let last = 0;
  const width = 30;
  return {
    update(done, total) {
      const now = performance.now();
      if (now - last < 100) return;
      last = now;
      const frac = total > 0 ? done / total : 1;
      const filled = Math.round(frac * width);
      process.stderr.write(
        `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)} % ${((now - start) / 1000).toFixed(1)} s`,
      );
    },
    end() {
      process.stderr.write(`\r${' '.repeat(width + 20)}\r`);
    },
  };
}

/** A horizon as time: "5 min", "1 h", "24 h", "1.5 h". */
function duration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 3600) return `${(seconds / 3600).toFixed(2).replace(/\.?0+$/, '')} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

function fmt(x: number, digits: number, scale = 1, suffix = ''): string {
  return Number.isNaN(x) ? '—' : `${(x * scale).toFixed(digits)}${suffix}`;
}

function table(means: readonly MeanScore[], horizons: readonly number[], a: EvalArgs): string {
  const target = 1 - a.alpha;
  const okHeader = `≥ ${fmt(target - COVERAGE_TOLERANCE, 0, 100)} %`;
  const nameWidth = Math.max(6, ...means.map((m) => m.method.length));
  let out = '';
  for (const h of horizons) {
    out += `\nh = ${h} (${duration(h * a.step)})\n`;
    out +=
      `  ${'method'.padEnd(nameWidth)}  ${'MASE'.padStart(6)}  ${'coverage'.padStart(8)}  ` +
      `${'slack'.padStart(7)}  ${okHeader.padEnd(6)}  ${'series'.padStart(6)}  ${'steps'.padStart(9)}\n`;
    for (const m of means.filter((r) => r.h === h)) {
      const excluded = m.mase_excluded > 0 && !Number.isNaN(m.mase) ? '*' : ' ';
      out +=
        `  ${m.method.padEnd(nameWidth)}  ${fmt(m.mase, 3).padStart(6)}${excluded} ${fmt(m.coverage, 1, 100, ' %').padStart(8)}  ` +
        `${fmt(m.slack, 1, 100, ' %').padStart(7)}  ${(m.coverage_ok ? 'yes' : 'no').padEnd(6)}  ` +
        `${String(m.series_count).padStart(6)}  ${String(m.n).padStart(9)}\n`;
    }
  }
  const excluded = means.find((m) => m.mase_excluded > 0 && !Number.isNaN(m.mase));
  if (excluded)
    out += `\n* MASE over the series where naive's error is not 0 (${excluded.mase_excluded} of ${excluded.series_count} left out at h = ${excluded.h})\n`;
  return out;
}

/** JSON has no NaN: a metric that is not a number is null. */
function jsonSafe(row: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [
      k,
      typeof v === 'number' && !Number.isFinite(v) ? null : v,
    ]),
  );
}

export async function evalCommand(argv: string[]): Promise<number> {
  const a = parseEvalArgs(argv);
  const stepsPerDay = Math.round(86_400 / a.step);
  const traces = a.specs.map((s) => readTraceFile(s.file, a.step));
  for (const c of a.covariates)
    if (!traces.some((t) => t.columns.some((col) => col.name === c)))
      throw new UsageError(`--covariates: no trace file has a column "${c}"`);
  const series: SeriesInput[] = traces.flatMap((t, i) => seriesOf(t, a.specs[i]!, a.covariates));
  if (series.length === 0)
    throw new UsageError('eval: no series to score (every column is a covariate)');

  const methods: Method[] = [];
  const bar = process.stderr.isTTY ? progressBar() : undefined;
  const t0 = performance.now();
  let result;
  try {
    for (const name of a.methods) {
      const options =
        a.model === undefined ? { backend: a.backend } : { backend: a.backend, model: a.model };
      methods.push(await METHODS.get(name)!(options));
    }
    result = await evaluate(
      series,
      methods,
      { horizons: a.horizons, alpha: a.alpha, stepsPerDay, warmupDays: a.warmupDays },
      bar && ((d, t) => bar.update(d, t)),
    );
  } finally {
    bar?.end();
    for (const m of methods) await m.close?.();
  }
  const seconds = (performance.now() - t0) / 1000;

  if (a.json) {
    process.stdout.write(
      JSON.stringify(
        {
          files: a.specs.map((s) => s.file),
          step: a.step,
          horizons: a.horizons,
          alpha: a.alpha,
          warmup_days: a.warmupDays,
          covariates: a.covariates,
          methods: a.methods,
          series: series.length,
          values: result.values,
          seconds,
          rows: [...result.rows, ...result.means].map(jsonSafe),
        },
        null,
        2,
      ) + '\n',
    );
    return 0;
  }
  const files = new Set(a.specs.map((s) => path.basename(s.file))).size;
  process.stdout.write(
    `${files} file${files === 1 ? '' : 's'}, ${series.length} series, ${result.values} values at ${a.step} s; ` +
      `α = ${a.alpha} (coverage target ${fmt(1 - a.alpha, 0, 100)} %), warm-up ${a.warmupDays} days; ` +
      `mean over series; ${seconds.toFixed(1)} s\n` +
      table(result.means, a.horizons, a),
  );
  return 0;
}
