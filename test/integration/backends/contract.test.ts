/** The shared contract suite over every in-process backend: the real addon, the real driver, ONNX Runtime. */
import { after } from 'node:test';
import { createBackend } from '../../../agent/backends/index.js';
import { createOnnxBackend } from '../../../agent/backends/onnx/index.js';
import { portableCoreDriverPath } from '../../../agent/shared/native.js';
import { backendContract } from '../../helpers/backend-contract.js';
import { tempDir } from '../../helpers/servers.js';

const onnxCache = tempDir('onnx-contract');
after(() => onnxCache.remove());

backendContract('reference', () => createBackend('reference'));
backendContract('native', () => createBackend('native'));
backendContract('native-driver', () => createBackend('native-driver'));
backendContract('native-driver (portable C)', () =>
  createBackend('native-driver', { driverPath: portableCoreDriverPath() }),
);
backendContract('onnx', () => createBackend('onnx', { onnxCacheDir: onnxCache.dir }));
backendContract('onnx (float64, no cache)', () =>
  createOnnxBackend('onnx', { precision: 'float64', cacheDir: false }),
);
