/**
 * The forecaster's learned state as text, for Redis and the local state file. JSON, except that
 * NaN and ±Infinity (a pending slot not yet filled, a minimum not yet seen) are written as the
 * strings "NaN", "Infinity" and "-Infinity", which plain JSON cannot carry.
 *
 * A file that is not such a state fails with a StateError naming where it came from; a state of
 * another model, other series, horizons or step is refused by Forecaster.setState. Either way the
 * caller warns and starts fresh: learned state is worth keeping, never worth refusing to start.
 */
import type { ForecasterState } from './forecaster.js';

/** Bump when the shape changes; an older or newer state is discarded, not misread. */
export const STATE_FORMAT = 'spikecap-forecaster/1';

export class StateError extends Error {
  readonly code = 'ESTATE';
}

export function encodeForecasterState(state: ForecasterState): string {
  return JSON.stringify({ format: STATE_FORMAT, ...state }, (_key, v: unknown) =>
    typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
  );
}

/** Parses {@link encodeForecasterState}'s text; `where` names its source in errors. */
export function decodeForecasterState(text: string, where: string): ForecasterState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, (_key, v: unknown) =>
      v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v,
    );
  } catch (err) {
    throw new StateError(`${where}: not a forecaster state: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new StateError(`${where}: not a forecaster state: expected a JSON object`);
  const o = parsed as Record<string, unknown>;
  if (o.format !== STATE_FORMAT)
    throw new StateError(
      `${where}: format ${JSON.stringify(o.format)}, this version reads ${STATE_FORMAT}`,
    );
  for (const key of ['bundle', 'targets', 'covariates', 'horizons', 'step', 'models'] as const)
    if (!(key in o)) throw new StateError(`${where}: ${key}: missing`);
  if (typeof o.bundle !== 'string') throw new StateError(`${where}: bundle: expected a string`);
  for (const key of ['targets', 'covariates', 'horizons', 'models', 'reservoir'] as const)
    if (!Array.isArray(o[key])) throw new StateError(`${where}: ${key}: expected an array`);
  return o as unknown as ForecasterState;
}
