import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The package root (where package.json and config/ live), from this compiled file's location. */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const configDir = path.join(packageRoot, 'config');
