import { stringify } from 'yaml';
import { ConfigError, loadConfig, redactConfig, type LoadedConfig } from '../config/index.js';
import { BundleError, readBundle } from '../model/index.js';
import { parse, UsageError } from './args.js';

export const configUsage = `usage:
  spikecap config check [FILE] [--config FILE] [--json]   validate; exit 0 if valid, 2 with every problem
  spikecap config print [--config FILE] [--json]          the effective config (file + env + defaults)`;

export function configCommand(argv: string[]): number {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(
    rest,
    { config: { type: 'string' }, json: { type: 'boolean' } },
    sub === 'check',
  );
  if (positionals.length > 1) throw new UsageError('config check takes at most one FILE');
  const file = positionals[0] ?? values.config;
  if (sub === 'check') {
    try {
      const loaded = loadConfig(file === undefined ? {} : { file });
      checkBundle(loaded);
      if (values.json)
        process.stdout.write(
          JSON.stringify({ valid: true, file: loaded.file ?? null, problems: [] }) + '\n',
        );
      else
        process.stdout.write(
          `${loaded.file ?? '(no file: defaults)'}: valid${loaded.envOverrides.length ? ` (with ${loaded.envOverrides.map((o) => `${o.variable} → ${o.path}`).join(', ')})` : ''}\n`,
        );
      return 0;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      if (values.json)
        process.stdout.write(
          JSON.stringify({ valid: false, file: err.file ?? null, problems: err.problems }) + '\n',
        );
      else
        process.stderr.write(
          `${err.file ?? 'config'}: invalid\n${err.problems.map((p) => `  ${p}`).join('\n')}\n`,
        );
      return 2;
    }
  }
  if (sub === 'print') {
    try {
      const loaded = loadConfig(file === undefined ? {} : { file });
      process.stdout.write(
        values.json
          ? JSON.stringify(redactConfig(loaded.config), null, 2) + '\n'
          : `# effective config from ${loaded.file ?? 'defaults'}\n${stringify(redactConfig(loaded.config))}`,
      );
      return 0;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
  }
  throw new UsageError(sub ? `unknown config subcommand "${sub}"` : 'config needs a subcommand');
}

/** The files the config names are part of it: a bundle that does not load makes it invalid. */
function checkBundle(loaded: LoadedConfig): void {
  try {
    readBundle(loaded.resolved.modelBundle);
  } catch (err) {
    if (err instanceof BundleError)
      throw new ConfigError(loaded.file, [`model.bundle: ${err.message}`]);
    throw err;
  }
}
