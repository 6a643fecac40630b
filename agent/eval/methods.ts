/**
 * Every method `spikecap eval` can run, by name: the one place a method is registered.
 * A factory gets the command line's --backend and --model (baselines ignore them).
 */
import { BASELINES } from './baselines.js';
import type { Method } from './method.js';
import { spikecapMethod } from './spikecap.js';

export interface MethodOptions {
  /** The backend that computes the reservoir: reference, native or onnx. */
  readonly backend: string;
  /** A model bundle file; undefined: the method's default. */
  readonly model?: string;
}

export type MethodFactory = (options: MethodOptions) => Promise<Method>;

export const METHODS: ReadonlyMap<string, MethodFactory> = new Map<string, MethodFactory>([
  ...Object.entries(BASELINES).map(([name, make]): [string, MethodFactory] => [
    name,
    () => Promise.resolve(make()),
  ]),
  ['spikecap', spikecapMethod],
]);
