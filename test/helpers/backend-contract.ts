/**
 * The shared contract suite: every backend passes it (agent/backends/contract.ts says what it
 * promises). A backend joins by calling backendContract(name, factory) from a test file; the
 * TypeScript reference is the yardstick for "computes the right thing".
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { BackendError, type Backend } from '../../agent/backends/index.js';
import { ReferenceReservoir, stateBytes } from '../../agent/model/index.js';
import { bundleOf, randomInputs, randomModel } from './models.js';

const model = randomModel({ neurons: 40, inputs: 5, fanout: 12, substeps: 3, seed: 7 });
const bundle = bundleOf(model);
const other = bundleOf(randomModel({ neurons: 24, inputs: 3, fanout: 5, substeps: 2, seed: 8 }));
const S_I = model.substeps * model.inputs;
const F = 2 * model.neurons;

/** What the reference computes for `samples` samples of `input`, from `state` (or reset). */
function expected(input: Uint8Array, samples: number, state?: Uint8Array) {
  const r = new ReferenceReservoir(model);
  if (state) r.setState(state);
  const features = new Int16Array(samples * F);
  const spikes = r.step(input, features, samples);
  const out = new Uint8Array(stateBytes(model.neurons));
  r.getState(out);
  return { features, spikes, state: out };
}

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof BackendError, `expected a BackendError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

export function backendContract(name: string, create: () => Backend | Promise<Backend>): void {
  describe(`backend contract: ${name}`, () => {
    const opened: Backend[] = [];
    const open = async () => {
      const b = await create();
      opened.push(b);
      return b;
    };
    after(async () => {
      for (const b of opened) await b.close();
    });

    test('reports capabilities that hold the test models', async () => {
      const c = (await open()).capabilities();
      assert.equal(typeof c.device, 'string');
      assert.ok(c.device.length > 0);
      assert.ok(c.maxNeurons >= model.neurons && c.maxInputs >= model.inputs);
      assert.ok(c.maxFanout >= model.fanout && c.maxSubsteps >= model.substeps);
    });

    test('refuses to step or move state before a model is loaded', async () => {
      const b = await open();
      assert.equal((await b.health()).status, 'unloaded');
      await rejects(b.step(new Uint8Array(S_I), new Int16Array(F), 1), 'ENOMODEL');
      await rejects(b.getState(), 'ENOMODEL');
      await rejects(b.setState(new Uint8Array(stateBytes(model.neurons))), 'ENOMODEL');
      assert.equal((await b.health()).lastError?.code, 'ENOMODEL');
    });

    test('computes what the reference computes, sample by sample and in batches', async () => {
      const b = await open();
      await b.load(bundle);
      assert.equal((await b.health()).status, 'ok');
      const input = randomInputs(300 * S_I, 1);
      const want = expected(input, 300);
      const got = new Int16Array(300 * F);
      let spikes = 0;
      for (let i = 0; i < 100; i++)
        spikes += await b.step(input.subarray(i * S_I), got.subarray(i * F), 1);
      spikes += await b.step(input.subarray(100 * S_I), got.subarray(100 * F), 200);
      assert.deepEqual(got, want.features);
      assert.equal(spikes, want.spikes);
      assert.ok(spikes > 0, 'the test model should spike');
      assert.deepEqual(await b.getState(), want.state);
    });

    test('starts from zero after load and after reset', async () => {
      const b = await open();
      await b.load(bundle);
      assert.deepEqual(await b.getState(), new Uint8Array(stateBytes(model.neurons)));
      await b.step(randomInputs(10 * S_I, 2), new Int16Array(10 * F), 10);
      assert.notDeepEqual(await b.getState(), new Uint8Array(stateBytes(model.neurons)));
      await b.reset();
      assert.deepEqual(await b.getState(), new Uint8Array(stateBytes(model.neurons)));
    });

    test('state set from the canonical encoding continues exactly (spiked bytes normalised)', async () => {
      const a = await open();
      await a.load(bundle);
      const input = randomInputs(120 * S_I, 3);
      await a.step(input, new Int16Array(60 * F), 60);
      const mid = await a.getState();
      const rest = new Int16Array(60 * F);
      await a.step(input.subarray(60 * S_I), rest, 60);

      const b = await open();
      await b.load(bundle);
      const odd = mid.slice();
      for (let i = 6 * model.neurons; i < odd.length; i++) if (odd[i]) odd[i] = 0xa5;
      await b.setState(odd);
      assert.deepEqual(await b.getState(), mid);
      const again = new Int16Array(60 * F);
      await b.step(input.subarray(60 * S_I), again, 60);
      assert.deepEqual(again, rest);
      assert.deepEqual(await b.getState(), await a.getState());
    });

    test('a wrong buffer is EINVAL and changes nothing', async () => {
      const b = await open();
      await b.load(bundle);
      await b.step(randomInputs(5 * S_I, 4), new Int16Array(5 * F), 5);
      const before = await b.getState();
      await rejects(b.setState(new Uint8Array(before.length - 1)), 'EINVAL');
      await rejects(b.step(new Uint8Array(S_I - 1), new Int16Array(F), 1), 'EINVAL');
      await rejects(b.step(new Uint8Array(S_I), new Int16Array(F - 1), 1), 'EINVAL');
      await rejects(b.step(new Uint8Array(2 * S_I), new Int16Array(2 * F), 0), 'EINVAL');
      await rejects(b.step(new Uint8Array(S_I), new Int16Array(F), 2), 'EINVAL');
      assert.deepEqual(await b.getState(), before);
    });

    test('counts above 15 count as 15', async () => {
      const b = await open();
      await b.load(bundle);
      const big = randomInputs(50 * S_I, 5).map((c) => (c ? 200 : 0));
      const f1 = new Int16Array(50 * F);
      await b.step(big, f1, 50);
      await b.reset();
      const f2 = new Int16Array(50 * F);
      await b.step(
        big.map((c) => Math.min(c, 15)),
        f2,
        50,
      );
      assert.deepEqual(f1, f2);
      assert.deepEqual(f1, expected(big, 50).features);
    });

    test('two instances stepped interleaved give what each gives alone', async () => {
      const [a, b] = [await open(), await open()];
      await a.load(bundle);
      await b.load(other);
      const m2 = other.model;
      const inA = randomInputs(80 * S_I, 6);
      const inB = randomInputs(80 * m2.substeps * m2.inputs, 7);
      const fa = new Int16Array(80 * F);
      const fb = new Int16Array(80 * 2 * m2.neurons);
      for (let i = 0; i < 80; i++) {
        await a.step(inA.subarray(i * S_I), fa.subarray(i * F), 1);
        await b.step(inB.subarray(i * m2.substeps * m2.inputs), fb.subarray(i * 2 * m2.neurons), 1);
      }
      const c = await open();
      await c.load(other);
      const fc = new Int16Array(80 * 2 * m2.neurons);
      await c.step(inB, fc, 80);
      assert.deepEqual(fa, expected(inA, 80).features);
      assert.deepEqual(fb, fc);
    });

    test('load replaces the model and resets the state', async () => {
      const b = await open();
      await b.load(bundle);
      await b.step(randomInputs(5 * S_I, 8), new Int16Array(5 * F), 5);
      await b.load(other);
      assert.deepEqual(await b.getState(), new Uint8Array(stateBytes(other.model.neurons)));
      const m2 = other.model;
      const input = randomInputs(20 * m2.substeps * m2.inputs, 9);
      const got = new Int16Array(20 * 2 * m2.neurons);
      await b.step(input, got, 20);
      const ref = new ReferenceReservoir(m2);
      const want = new Int16Array(got.length);
      ref.step(input, want, 20);
      assert.deepEqual(got, want);
    });

    test('close is idempotent and later calls are ECLOSED', async () => {
      const b = await open();
      await b.load(bundle);
      await b.close();
      await b.close();
      await rejects(b.step(new Uint8Array(S_I), new Int16Array(F), 1), 'ECLOSED');
      await rejects(b.getState(), 'ECLOSED');
      assert.equal((await b.health()).status, 'down');
    });
  });
}
