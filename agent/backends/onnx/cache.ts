/**
 * Built graphs on disk, one file per bundle and variant, named by the bundle's SHA-256:
 * `<sha256>.g<GRAPH_VERSION>.<float32|float64>.<dense|scatter>.onnx`. A file is used only if it
 * checks out: its metadata names the same bundle, graph version, arithmetic and way of adding
 * spikes, and the SHA-256 of its graph matches the one recorded in it (graph.ts records it);
 * anything else (unreadable, truncated, bit-flipped, another bundle's, from another graph
 * version) is rebuilt and replaced. Writes go to a temporary file
 * in the same directory, renamed over the target, so a reader never sees half a file. The cache
 * is an optimisation: failing to write it never fails a load.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import type { ModelBundle } from '../../model/index.js';
import {
  buildReservoirGraph,
  chooseArithmetic,
  chooseRecurrent,
  GRAPH_VERSION,
  META,
  type Arithmetic,
  type Precision,
  type Recurrent,
} from './graph.js';
import { readModelEnvelope } from './onnx-proto.js';
import { writeFileAtomic } from '../../shared/fs.js';

/**
 * Where graphs are cached when the caller does not say: systemd's `CacheDirectory=` (its
 * `$CACHE_DIRECTORY`) if the agent runs under one, else `$XDG_CACHE_HOME/spikecap/onnx`, else
 * `~/.cache/spikecap/onnx`.
 */
export function defaultOnnxCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const systemd = env.CACHE_DIRECTORY?.split(':')[0];
  if (systemd) return path.join(systemd, 'onnx');
  if (env.XDG_CACHE_HOME) return path.join(env.XDG_CACHE_HOME, 'spikecap', 'onnx');
  const home = homedir();
  return home
    ? path.join(home, '.cache', 'spikecap', 'onnx')
    : path.join(tmpdir(), 'spikecap-onnx');
}

/** What, besides the bundle, decides the graph: part of the cache key. */
export interface GraphVariant {
  readonly arithmetic: Arithmetic;
  readonly recurrent: Recurrent;
}

/** The cache file's name for a bundle's graph. */
export function cacheFileName(bundleSha256: string, v: GraphVariant): string {
  return `${bundleSha256}.g${GRAPH_VERSION}.${v.arithmetic}.${v.recurrent}.onnx`;
}

/**
 * Why `bytes` is not the graph of this bundle with this arithmetic, or undefined when it is.
 * (The graph's own SHA-256 catches damage anywhere in the weights, not only where the protobuf
 * would stop parsing.)
 */
export function graphProblem(
  bytes: Uint8Array,
  bundleSha256: string,
  v: GraphVariant,
): string | undefined {
  let envelope;
  try {
    envelope = readModelEnvelope(bytes);
  } catch (err) {
    return `not an ONNX model (${(err as Error).message})`;
  }
  const meta = envelope.metadata;
  const want: [string, string][] = [
    [META.bundle, bundleSha256],
    [META.graphVersion, String(GRAPH_VERSION)],
    [META.arithmetic, v.arithmetic],
    [META.recurrent, v.recurrent],
  ];
  for (const [key, value] of want)
    if (meta.get(key) !== value)
      return `${key} is ${JSON.stringify(meta.get(key) ?? null)}, expected ${JSON.stringify(value)}`;
  const digest = createHash('sha256').update(envelope.graph).digest('hex');
  if (meta.get(META.graphSha256) !== digest) return 'the graph does not match its SHA-256';
  return undefined;
}

/** A graph and where it came from (for health() and the tests). */
export interface CachedGraph extends GraphVariant {
  readonly bytes: Uint8Array;
  /** accumulatorBound of the model. */
  readonly bound: number;
  /** `cache`: read from `file`; `built`: built now (and written to `file` if that worked). */
  readonly source: 'cache' | 'built';
  readonly file?: string;
  /** Why a cache file was not used or not written, when there was one to use or write. */
  readonly note?: string;
}

export interface GraphRequest {
  /** The cache directory; false: always build, write nothing. */
  readonly dir: string | false;
  readonly precision: Precision;
  /** `auto`: chooseRecurrent's choice for the model. */
  readonly recurrent: 'auto' | Recurrent;
  /** Build even if a good file is there (ONNX Runtime refused the cached one). */
  readonly refresh?: boolean;
}

/** The graph of `bundle`: from the cache if a good file is there, else built (and cached). */
export function loadOrBuildGraph(bundle: ModelBundle, request: GraphRequest): CachedGraph {
  const m = bundle.model;
  const { arithmetic, bound } = chooseArithmetic(m, request.precision);
  const recurrent = request.recurrent === 'auto' ? chooseRecurrent(m) : request.recurrent;
  const variant: GraphVariant = { arithmetic, recurrent };
  const build = (): Pick<CachedGraph, 'bytes' | 'bound' | keyof GraphVariant> => {
    const g = buildReservoirGraph(m, {
      precision: arithmetic,
      recurrent,
      bundleSha256: bundle.sha256,
    });
    return { bytes: g.bytes, bound: g.bound, arithmetic: g.arithmetic, recurrent: g.recurrent };
  };
  if (request.dir === false) return { ...build(), source: 'built' };

  const file = path.join(request.dir, cacheFileName(bundle.sha256, variant));
  let note: string | undefined;
  if (!request.refresh) {
    try {
      const bytes = readFileSync(file);
      const problem = graphProblem(bytes, bundle.sha256, variant);
      if (problem === undefined) return { bytes, ...variant, bound, source: 'cache', file };
      note = `cache file ${file} rebuilt: ${problem}`;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code !== 'ENOENT') note = `cache file ${file} rebuilt: ${e.code ?? e.message}`;
    }
  }
  const built = build();
  try {
    mkdirSync(request.dir, { recursive: true });
    writeFileAtomic(file, built.bytes);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ...built, source: 'built', note: `cannot write ${file}: ${e.code ?? e.message}` };
  }
  return { ...built, source: 'built', file, ...(note !== undefined ? { note } : {}) };
}
