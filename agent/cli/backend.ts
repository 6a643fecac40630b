import {
  BackendError,
  BackendSelector,
  backendNames,
  benchBackends,
  listBackends,
  openBackend,
  selftest,
  type Backend,
  type BackendSettings,
  type BenchResult,
  type SelectorOptions,
  type SelectorStatus,
} from '../backends/index.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { defaultModelBundle, type ResolvedConfig } from '../config/resolve.js';

import { readBundle } from '../model/index.js';
import { parse, UsageError } from './args.js';

export const backendUsage = `usage:
  spikecap backend list [--json]     the backend the agent would use (backends.order, each one's
                                     health and last error), and every backend this machine can run
  spikecap backend selftest --backends A,B[,C] [--model FILE] [--steps N] [--seed S] [--json]
      the same random inputs from the same random state through each backend: bit-exact or not
      (exit 0 if bit-exact, 1 if not)
  spikecap backend bench [--model FILE] [--backends A,B] [--samples N] [--json]
      µs per input sample (median, p99), synaptic events per second, firing rate
  Backends: ${backendNames.join(', ')}. --model defaults to model.bundle of the config;
  --driver PATH sets the native-driver library (default: backends.driver, else the C core's);
  --port P [--baud B] the board of the serial backend (default: backends.serial_port).`;

export interface Context {
  settings: BackendSettings;
  modelFile: string;
  /** backends.order and the selector's settings, as the agent would use them. */
  selector: Omit<SelectorOptions, 'settings' | 'log'>;
}

/**
 * The backends' settings and the model file: the command line over the config. A config that
 * does not load only matters if it was asked for (`--config`). `board` uses it too.
 */
export function context(values: {
  config?: string;
  driver?: string;
  model?: string;
  port?: string;
  baud?: string;
}): Context {
  let modelFile = defaultModelBundle;
  let settings: BackendSettings = {};
  let selector: Context['selector'] = { order: ['native', 'onnx'] };
  try {
    const { resolved: r } = loadConfig(values.config === undefined ? {} : { file: values.config });
    modelFile = r.modelBundle;
    settings = backendSettings(r);
    selector = {
      order: r.backendOrder,
      healthyProbes: r.healthyProbes,
      probeIntervalMs: r.probeIntervalMs,
      stepTimeoutMs: r.stepTimeoutMs,
    };
  } catch (err) {
    if (!(err instanceof ConfigError) || values.config !== undefined) throw err;
  }
  if (values.driver !== undefined) settings = { ...settings, driverPath: values.driver };
  if (values.port !== undefined) {
    settings = { ...settings, serialPort: values.port };
    if (!selector.order.includes('serial'))
      selector = { ...selector, order: ['serial', ...selector.order] };
  }
  if (values.baud !== undefined)
    settings = { ...settings, serialBaud: positiveInt(values.baud, '--baud', 921_600) };
  return { settings, modelFile: values.model ?? modelFile, selector };
}

/** What the backends take from the config. */
export function backendSettings(r: ResolvedConfig): BackendSettings {
  return {
    ...(r.driverPath !== undefined ? { driverPath: r.driverPath } : {}),
    ...(r.driverArgs ? { driverArgs: r.driverArgs } : {}),
    ...(r.nativeAddon !== undefined ? { nativeAddon: r.nativeAddon } : {}),
    ...(r.serialPort !== undefined ? { serialPort: r.serialPort } : {}),
    serialBaud: r.serialBaud,
    onnxThreads: r.onnxThreads,
  };
}

/** `--backends A,B`: known names, each once. */
function backendList(text: string): string[] {
  const names = text.split(',').map((s) => s.trim());
  for (const n of names)
    if (!backendNames.includes(n))
      throw new UsageError(
        `--backends: unknown backend "${n}" (known: ${backendNames.join(', ')})`,
      );
  if (new Set(names).size !== names.length)
    throw new UsageError('--backends: a backend is listed twice');
  return names;
}

function positiveInt(text: string | undefined, option: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${option}: expected a positive integer, got "${text}"`);
  return n;
}

export async function backendCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parse(rest, {
    config: { type: 'string' },
    json: { type: 'boolean' },
    driver: { type: 'string' },
    port: { type: 'string' },
    baud: { type: 'string' },
    model: { type: 'string' },
    backends: { type: 'string' },
    steps: { type: 'string' },
    seed: { type: 'string' },
    samples: { type: 'string' },
  });
  const out = (s: string) => process.stdout.write(s);
  switch (sub) {
    case 'list': {
      const ctx = context(values);
      const selection = await selectionStatus(ctx);
      const list = await listBackends(ctx.settings);
      if (values.json) {
        out(JSON.stringify({ selection, backends: list }, null, 2) + '\n');
        return 0;
      }
      out(formatSelection(selection));
      out('\nevery backend of this build:\n');
      const w = Math.max(...list.map((b) => b.name.length));
      for (const b of list) {
        const c = b.capabilities;
        out(
          `${b.name.padEnd(w)}  ${b.available ? 'available  ' : 'unavailable'}  ${b.description}\n` +
            (c
              ? `${' '.repeat(w)}  ${' '.repeat(11)}  ${c.device}; up to ${c.maxNeurons} neurons, ${c.maxInputs} inputs, fan-out ${c.maxFanout}, ${c.maxSubsteps} sub-steps\n`
              : `${' '.repeat(w)}  ${' '.repeat(11)}  why: ${b.reason}\n`),
        );
      }
      return 0;
    }
    case 'selftest': {
      if (values.backends === undefined)
        throw new UsageError('backend selftest needs --backends A,B[,C] (at least two)');
      const names = backendList(values.backends);
      if (names.length < 2)
        throw new UsageError('--backends: selftest compares at least two backends');
      const steps = positiveInt(values.steps, '--steps', 1000);
      const seed = values.seed === undefined ? 1 : Number(values.seed);
      if (!Number.isInteger(seed) || seed < 0)
        throw new UsageError(`--seed: expected a non-negative integer, got "${values.seed}"`);
      const ctx = context(values);
      const bundle = readBundle(ctx.modelFile);
      const backends = await openAll(names, ctx.settings);
      try {
        const r = await selftest(backends, bundle, steps, seed);
        if (values.json) out(JSON.stringify({ model_file: ctx.modelFile, ...r }, null, 2) + '\n');
        else {
          const m = r.model;
          out(
            `model ${ctx.modelFile} (sha256 ${m.sha256.slice(0, 12)}…, ${m.neurons} neurons, ${m.inputs} inputs, fan-out ${m.fanout}, ${m.substeps} sub-steps)\n` +
              `${r.backends.join(', ')}: ${r.steps} steps from one random state (seed ${r.seed}), firing rate ${(100 * r.firing_rate).toFixed(2)}%\n`,
          );
          const f = r.first_mismatch;
          out(
            r.bit_exact
              ? 'bit-exact: yes (features after every step, state every 100 steps and at the end)\n'
              : `bit-exact: NO, ${r.mismatches} mismatches; first after step ${f!.step}: ${f!.backend} ${f!.what}[${f!.index}] = ${f!.got}, ${f!.against} has ${f!.expected}\n`,
          );
        }
        return r.bit_exact ? 0 : 1;
      } finally {
        await closeAll(backends);
      }
    }
    case 'bench': {
      const ctx = context(values);
      const samples = positiveInt(values.samples, '--samples', 5000);
      const bundle = readBundle(ctx.modelFile);
      // Named backends must open; by default, every backend that can run here.
      const backends =
        values.backends === undefined
          ? await openAvailable(ctx.settings)
          : await openAll(backendList(values.backends), ctx.settings);
      let results: BenchResult[];
      try {
        results = await benchBackends(backends, bundle, { samples });
      } finally {
        await closeAll(backends);
      }
      if (values.json)
        out(
          JSON.stringify(
            { model_file: ctx.modelFile, model_sha256: bundle.sha256, results },
            null,
            2,
          ) + '\n',
        );
      else out(formatBench(results));
      return 0;
    }
    default:
      throw new UsageError(
        sub ? `unknown backend subcommand "${sub}"` : 'backend needs a subcommand',
      );
  }
}

/**
 * What the agent's selector would do now with this config: start it (each backend of
 * backends.order probed in order, the model loaded), report, close it.
 */
async function selectionStatus(ctx: Context): Promise<SelectorStatus | { error: string }> {
  let selector: BackendSelector;
  try {
    selector = await BackendSelector.start(readBundle(ctx.modelFile), {
      ...ctx.selector,
      settings: ctx.settings,
    });
  } catch (err) {
    return { error: (err as Error).message };
  }
  try {
    return await selector.status();
  } finally {
    await selector.close();
  }
}

function formatSelection(s: SelectorStatus | { error: string }): string {
  if ('error' in s) return `active: none (${s.error})\n`;
  const w = Math.max(...s.backends.map((b) => b.name.length));
  let text =
    `active: ${s.active ?? 'none'} (${s.reason ?? ''})\n` +
    `order:  ${s.order.join(', ')}; ${s.switches} switches\n`;
  const bare = (name: string, m: string | undefined) =>
    m?.startsWith(`${name}: `) ? m.slice(name.length + 2) : m;
  for (const b of s.backends)
    text +=
      `  ${b.name.padEnd(w)}  ${(b.active ? 'active' : b.status).padEnd(11)}  ${bare(b.name, b.detail) ?? ''}` +
      (b.lastError !== undefined && b.lastError !== b.detail
        ? ` (last error: ${bare(b.name, b.lastError)})`
        : '') +
      '\n';
  return text;
}

async function openAvailable(settings: BackendSettings): Promise<Backend[]> {
  const opened: Backend[] = [];
  for (const n of backendNames) {
    try {
      opened.push(await openBackend(n, settings));
    } catch (err) {
      if (!(err instanceof BackendError && err.code === 'EUNAVAILABLE')) throw err;
    }
  }
  return opened;
}

async function openAll(names: string[], settings: BackendSettings): Promise<Backend[]> {
  const opened: Backend[] = [];
  try {
    for (const n of names) opened.push(await openBackend(n, settings));
    return opened;
  } catch (err) {
    await closeAll(opened);
    throw err;
  }
}

async function closeAll(backends: Backend[]): Promise<void> {
  for (const b of backends) await b.close();
}

/** A table of bench results, one row per backend and model size. */
export function formatBench(results: BenchResult[]): string {
  const rows = [
    [
      'backend',
      'neurons',
      'fan-out',
      'sub-steps',
      'µs/sample p50',
      'p99',
      'Mevents/s',
      'firing rate',
    ],
    ...results.map((r) => [
      r.backend,
      String(r.neurons),
      String(r.fanout),
      String(r.substeps),
      r.us_per_step_median.toFixed(2),
      r.us_per_step_p99.toFixed(2),
      (r.synaptic_events_per_s / 1e6).toFixed(1),
      `${(100 * r.firing_rate).toFixed(2)}%`,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) =>
        r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '),
      )
      .join('\n') + '\n'
  );
}
