/**
 * The `serial` backend over a real pseudo-terminal with the virtual board (firmware-bridge/
 * device): the shared backend contract, and bit-exactness with the native backend over a few
 * thousand samples, on the default model and on a small random one. Each backend gets a board of
 * its own (a serial port is opened exclusively).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { randomState } from '../../../agent/backends/selftest.js';
import { BackendError, createBackend, type Backend } from '../../../agent/backends/index.js';
import { readBundle, Xoshiro128, type ModelBundle } from '../../../agent/model/index.js';
import { configDir } from '../../../agent/shared/paths.js';
import {
  BoardClient,
  BoardError,
  imageSha256,
  modelImage,
  openSerialBackend,
  type SerialBackend,
} from '../../../firmware-bridge/host/index.js';
import { backendContract } from '../../helpers/backend-contract.js';
import { bundleOf, randomInputs, randomModel } from '../../helpers/models.js';
import { startVirtualBoard, type VirtualBoard } from '../../helpers/virtual-board.js';

const boards: VirtualBoard[] = [];
after(async () => {
  await Promise.all(boards.map((b) => b.stop()));
});

/** A serial backend on a board of its own; closing the backend stops the board. */
async function serialOnBoard(): Promise<SerialBackend> {
  const board = await startVirtualBoard();
  boards.push(board);
  const backend = await openSerialBackend(board.path);
  const close = backend.close.bind(backend);
  backend.close = async () => {
    await close();
    await board.stop();
  };
  return backend;
}

backendContract('serial (virtual board)', serialOnBoard);

/**
 * Steps `native` and `serial` over the same random input in batches of random size, comparing
 * features and spikes after every batch, with a jump to a random state halfway.
 */
async function agree(bundle: ModelBundle, samples: number, seed: number): Promise<void> {
  const serial = await serialOnBoard();
  const native = createBackend('native');
  try {
    await serial.load(bundle);
    await native.load(bundle);
    const m = bundle.model;
    const si = m.substeps * m.inputs;
    const f = 2 * m.neurons;
    const input = randomInputs(samples * si, seed);
    const rng = new Xoshiro128(seed);
    let jumped = false;
    for (let done = 0; done < samples;) {
      const k = Math.min(samples - done, 1 + rng.nextInt(rng.nextInt(4) === 0 ? 200 : 20));
      if (!jumped && done >= samples / 2) {
        const s = randomState(m.neurons, rng);
        await serial.setState(s);
        await native.setState(s);
        jumped = true;
      }
      const batch = input.subarray(done * si, (done + k) * si);
      const want = new Int16Array(k * f);
      const got = new Int16Array(k * f);
      const wantSpikes = await native.step(batch, want, k);
      const gotSpikes = await serial.step(batch, got, k);
      assert.equal(gotSpikes, wantSpikes, `spikes of samples ${done}…${done + k - 1}`);
      if (Buffer.compare(Buffer.from(got.buffer), Buffer.from(want.buffer)) !== 0) {
        const i = got.findIndex((v, j) => v !== want[j]);
        assert.fail(
          `features differ in sample ${done + Math.floor(i / f)}, value ${i % f}: ${got[i]} ≠ ${want[i]}`,
        );
      }
      done += k;
    }
    assert.deepEqual(await serial.getState(), await native.getState());
    const c = serial.client.counters();
    assert.equal(c.crcErrors + c.framingErrors + c.retries + c.stale, 0, JSON.stringify(c));
  } finally {
    await serial.close();
    await native.close();
  }
}

describe('bit-exact with native', () => {
  test('config/reservoir.spkb, 3000 samples', async () => {
    await agree(readBundle(`${configDir}/reservoir.spkb`), 3000, 11);
  });

  test('a small random model with extreme weights, 4000 samples', async () => {
    const model = randomModel({
      neurons: 37,
      inputs: 7,
      fanout: 9,
      substeps: 5,
      seed: 12,
      extremeWeights: true,
      wildBias: true,
    });
    await agree(bundleOf(model), 4000, 13);
  });
});

test('a model above the board limits is ELIMIT before anything is sent', async () => {
  const serial: Backend = await serialOnBoard();
  try {
    const caps = serial.capabilities();
    const big = randomModel({
      neurons: caps.maxNeurons + 1,
      inputs: 1,
      fanout: 1,
      substeps: 1,
      seed: 1,
    });
    await assert.rejects(serial.load(bundleOf(big)), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ELIMIT');
      assert.match(err.message, new RegExp(`neurons \\(${caps.maxNeurons + 1}\\) is above`));
      return true;
    });
    assert.equal((await serial.health()).status, 'unloaded');
  } finally {
    await serial.close();
  }
});

describe('BoardClient', () => {
  test('an upload on a clean link keeps rx_window chunks in flight (PROTOCOL.md 4.1)', async () => {
    const board = await startVirtualBoard();
    boards.push(board);
    const client = await BoardClient.open(board.path);
    try {
      const image = modelImage(readBundle(`${configDir}/reservoir.spkb`));
      const { rxWindow, maxPayload } = client.hello.limits;
      assert.equal(rxWindow, 4, 'the virtual board takes 4 chunks in flight');
      const progress: number[] = [];
      await client.upload(image, (sent) => progress.push(sent));
      const chunks = Math.ceil(image.length / (maxPayload - 4));
      const c = client.counters();
      // Every chunk but the first went out with others in flight, and no window broke.
      assert.equal(c.windowedChunks, chunks - 1, JSON.stringify(c));
      assert.equal(c.windowGaps, 0);
      assert.equal(c.framesOut, 1 + 1 + chunks + 1, 'HELLO, BEGIN, the chunks, DONE');
      assert.deepEqual(
        progress,
        [...progress].sort((a, b) => a - b),
        'progress moves forward, one answer at a time',
      );
      assert.equal(progress.at(-1), image.length);
      assert.equal((await client.info()).modelSha256, imageSha256(image));
    } finally {
      await client.close();
    }
  });

  test('a reboot behind the backend is noticed (new boot id) and repaired: still bit-exact', async () => {
    const serial = await serialOnBoard();
    const native = createBackend('native');
    try {
      const bundle = bundleOf(
        randomModel({ neurons: 30, inputs: 4, fanout: 6, substeps: 2, seed: 5 }),
      );
      await serial.load(bundle);
      await native.load(bundle);
      const m = bundle.model;
      const si = m.substeps * m.inputs;
      const input = randomInputs(100 * si, 6);
      const want = new Int16Array(100 * 2 * m.neurons);
      const got = new Int16Array(want.length);
      await native.step(input, want, 100);
      await serial.step(input, got, 70); // 64 samples checkpointed, 6 to replay
      const boot = serial.client.bootId;
      const resets: { previousBootId: number; bootId: number }[] = [];
      serial.client.on('reset', (r) => resets.push(r));
      await serial.client.reset('reboot');
      assert.notEqual(serial.client.bootId, boot);
      assert.equal(serial.client.hello.modelLoaded, false, 'a reboot loses the model');
      await serial.step(input.subarray(70 * si), got.subarray(70 * 2 * m.neurons), 30);
      assert.deepEqual(got, want);
      assert.deepEqual(await serial.getState(), await native.getState());
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(resets, [{ previousBootId: boot, bootId: serial.client.bootId }]);
      assert.equal(serial.client.counters().resetsSeen, 1);
    } finally {
      await serial.close();
      await native.close();
    }
  });

  test('errors say what was asked of which port; calls after close are ECLOSED', async () => {
    const board = await startVirtualBoard();
    boards.push(board);
    const client = await BoardClient.open(board.path);
    try {
      await assert.rejects(client.step(new Uint8Array(4), 1), (err: unknown) => {
        assert.ok(err instanceof BoardError);
        assert.equal(err.code, 'E_NOMODEL');
        assert.match(err.message, /refused GET_STATE seq \d+: E_NOMODEL \(detail \d+\)/);
        assert.ok(err.message.startsWith(board.path));
        return true;
      });
      await assert.rejects(client.upload(new Uint8Array(100)), (err: unknown) => {
        assert.ok(err instanceof BoardError);
        assert.equal(err.code, 'E_MODEL', err.message);
        return true;
      });
      assert.ok((await client.ping(Buffer.from('hello'))) >= 0);
      const stats = await client.stats();
      assert.ok(stats.rxFrames >= 4 && stats.errorsSent >= 2, JSON.stringify(stats));
    } finally {
      await client.close();
      await client.close();
    }
    await assert.rejects(
      client.info(),
      (err: unknown) => err instanceof BoardError && err.code === 'ECLOSED',
    );
    assert.equal(client.link.state, 'closed');
    assert.deepEqual(
      process.getActiveResourcesInfo().filter((r) => r === 'Timeout'),
      [],
      'no timer left running',
    );
  });

  test('a port that does not exist is EDISCONNECTED at open, and EUNAVAILABLE for the backend', async () => {
    const missing = '/dev/spikecap-no-such-port';
    await assert.rejects(BoardClient.open(missing), (err: unknown) => {
      assert.ok(err instanceof BoardError);
      assert.equal(err.code, 'EDISCONNECTED');
      assert.match(err.message, /^cannot open \/dev\/spikecap-no-such-port: /);
      return true;
    });
    await assert.rejects(openSerialBackend(missing), (err: unknown) => {
      assert.ok(err instanceof BackendError);
      assert.equal(err.code, 'EUNAVAILABLE');
      return true;
    });
  });
});
