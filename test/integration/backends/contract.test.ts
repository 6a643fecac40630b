/** The shared contract suite over every in-process backend: the real addon, the real driver. */
import { createBackend } from '../../../agent/backends/index.js';
import { portableCoreDriverPath } from '../../../agent/shared/native.js';
import { backendContract } from '../../helpers/backend-contract.js';

backendContract('reference', () => createBackend('reference'));
backendContract('native', () => createBackend('native'));
backendContract('native-driver', () => createBackend('native-driver'));
backendContract('native-driver (portable C)', () =>
  createBackend('native-driver', { driverPath: portableCoreDriverPath() }),
);
