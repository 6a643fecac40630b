// Reference features for the device end-to-end test: runs the native addon (the C core built
// into Node, AVX2 where the CPU has it) on a bundle and a file of input samples.
//   node reference.mjs BUNDLE INPUTS OUT
// INPUTS: samples*S*I bytes. OUT: features (samples*2N int16 LE), then the final state (7N
// bytes), then the total spike count (u32 LE). Prints the kernel used on stderr.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const { loadNative } = await import(path.join(root, 'dist/agent/shared/native.js'));
const { readBundle } = await import(path.join(root, 'dist/agent/model/index.js'));

const [bundlePath, inputsPath, outPath] = process.argv.slice(2);
const { model } = readBundle(bundlePath);
const inputs = new Uint8Array(readFileSync(inputsPath));
const per = model.substeps * model.inputs;
const samples = inputs.length / per;
if (!Number.isInteger(samples)) {
  throw new Error(`inputs: ${inputs.length} bytes is not a multiple of ${per}`);
}

const Reservoir = loadNative().Reservoir;
const r = new Reservoir(model);
const features = new Int16Array(samples * 2 * model.neurons);
const spikes = r.step(inputs, features, samples);
const state = new Uint8Array(7 * model.neurons);
r.getState(state);
process.stderr.write(`reference: ${samples} samples, kernel ${r.capabilities().kernel}\n`);
r.close();

const out = Buffer.alloc(features.byteLength + state.length + 4);
for (let i = 0; i < features.length; i++) out.writeInt16LE(features[i], 2 * i);
out.set(state, features.byteLength);
out.writeUInt32LE(spikes >>> 0, features.byteLength + state.length);
writeFileSync(outPath, out);
