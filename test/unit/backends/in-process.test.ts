/** The lifecycle every in-process backend shares, over the reference engine with small limits. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BackendError } from '../../../agent/backends/index.js';
import { InProcessBackend } from '../../../agent/backends/in-process.js';
import { ReferenceReservoir } from '../../../agent/model/index.js';
import { bundleOf, randomModel } from '../../helpers/models.js';

function smallDevice(maxNeurons: number) {
  return new InProcessBackend('small', {
    capabilities: {
      backend: 'small',
      device: 'a 32-neuron device',
      maxNeurons,
      maxInputs: 4,
      maxFanout: 8,
      maxSubsteps: 4,
    },
    create: (m) => new ReferenceReservoir(m),
  });
}

test('a model above the capabilities is ELIMIT, names the limit, and the old model stays', async () => {
  const b = smallDevice(32);
  const ok = bundleOf(randomModel({ neurons: 32, inputs: 4, fanout: 8, substeps: 4, seed: 1 }));
  await b.load(ok);
  await assert.rejects(
    b.load(bundleOf(randomModel({ neurons: 33, inputs: 4, fanout: 8, substeps: 4, seed: 1 }))),
    (err: unknown) =>
      err instanceof BackendError &&
      err.code === 'ELIMIT' &&
      /neurons \(33\) is above what a 32-neuron device holds \(32\)/.test(err.message),
  );
  assert.equal(await b.step(new Uint8Array(16), new Int16Array(64), 1), 0);
  assert.equal((await b.health()).lastError?.code, 'ELIMIT');
});

test('an engine that throws something unexpected is a fault', async () => {
  const b = new InProcessBackend('broken', {
    capabilities: {
      backend: 'broken',
      device: 'x',
      maxNeurons: 99,
      maxInputs: 9,
      maxFanout: 9,
      maxSubsteps: 9,
    },
    create: () => ({
      step: () => {
        throw new Error('device on fire');
      },
      getState: () => undefined,
      setState: () => undefined,
      reset: () => undefined,
      close: () => undefined,
    }),
  });
  await b.load(bundleOf(randomModel({ neurons: 4, inputs: 1, fanout: 2, substeps: 1, seed: 2 })));
  await assert.rejects(b.step(new Uint8Array(1), new Int16Array(8), 1), (err: unknown) => {
    assert.ok(err instanceof BackendError);
    assert.equal(err.code, 'EFAULT');
    assert.equal(err.message, 'broken: device on fire');
    return true;
  });
});
