/**
 * The canonical encoding of the reservoir state (native/core/SPEC.md, "State"): 7·N bytes,
 * little-endian — isyn[0..N) as int16, vmem[0..N) as int16, trace[0..N) as int16, then
 * spiked[0..N) one byte each. Writing gives spiked as 0 or 1; reading takes any non-zero byte
 * as 1. Any other length is refused with a RangeError.
 */
import { stateBytes, type ReservoirState } from './types.js';

/** A zero state (the state after reset) of `neurons` neurons. */
export function zeroState(neurons: number): ReservoirState {
  return {
    isyn: new Int16Array(neurons),
    vmem: new Int16Array(neurons),
    trace: new Int16Array(neurons),
    spiked: new Uint8Array(neurons),
  };
}

function checkLength(bytes: Uint8Array, neurons: number, what: string): void {
  if (bytes.length !== stateBytes(neurons))
    throw new RangeError(
      `${what}: a state of ${neurons} neurons is ${stateBytes(neurons)} bytes (7·N), got ${bytes.length}`,
    );
}

/** Writes `state` into `out` (exactly 7·N bytes). */
export function encodeStateInto(state: ReservoirState, out: Uint8Array): void {
  const n = state.isyn.length;
  checkLength(out, n, 'encodeState');
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < n; i++) {
    view.setInt16(2 * i, state.isyn[i]!, true);
    view.setInt16(2 * (n + i), state.vmem[i]!, true);
    view.setInt16(2 * (2 * n + i), state.trace[i]!, true);
    out[6 * n + i] = state.spiked[i] ? 1 : 0;
  }
}

/** Reads `bytes` (exactly 7·N bytes, N = state's size) into `state`. Nothing changes on error. */
export function decodeStateInto(bytes: Uint8Array, state: ReservoirState): void {
  const n = state.isyn.length;
  checkLength(bytes, n, 'decodeState');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) {
    state.isyn[i] = view.getInt16(2 * i, true);
    state.vmem[i] = view.getInt16(2 * (n + i), true);
    state.trace[i] = view.getInt16(2 * (2 * n + i), true);
    state.spiked[i] = bytes[6 * n + i] ? 1 : 0;
  }
}

/** The canonical bytes of `state` (a new array of 7·N bytes). */
export function encodeState(state: ReservoirState): Uint8Array {
  const out = new Uint8Array(stateBytes(state.isyn.length));
  encodeStateInto(state, out);
  return out;
}

/** A new state from canonical bytes; a RangeError unless `bytes` is exactly 7·neurons long. */
export function decodeState(bytes: Uint8Array, neurons: number): ReservoirState {
  const state = zeroState(neurons);
  decodeStateInto(bytes, state);
  return state;
}
