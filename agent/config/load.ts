import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { YAMLParseError } from 'yaml';
import { parse as parseYaml, parseDocument } from 'yaml';
import { packageRoot } from '../shared/paths.js';
import { configSchema, describeSchemaError } from './schema.js';
import { redactUrl } from '../shared/redact.js';
import { resolveConfig, type ResolvedConfig } from './resolve.js';
import type { SpikecapConfig } from './schema.generated.js';

/** Thrown when a config cannot be used; `problems` holds one `path: what was wrong` per line. */
export class ConfigError extends Error {
  readonly code = 'ECONFIG';
  constructor(
    readonly file: string | undefined,
    readonly problems: string[],
  ) {
    super(`${file ?? 'config'}: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  /** The effective config: file, then environment, then schema defaults. */
  config: SpikecapConfig;
  /** The same with durations parsed and paths resolved, for the code that runs. */
  resolved: ResolvedConfig;
  /** The file it came from, or undefined when none was given and the default does not exist. */
  file: string | undefined;
  /** Which environment variables overrode which keys. */
  envOverrides: { variable: string; path: string }[];
}

const ENV_PREFIX = 'SPIKECAP_';
/** Environment variables with the prefix that are not config keys. */
const ENV_NOT_KEYS = new Set(['SPIKECAP_CONFIG', 'SPIKECAP_TEST_KEEP']);

/**
 * The config file used when none is named: $SPIKECAP_CONFIG, then config/spikecap.yaml in a
 * source checkout, /etc/spikecap/spikecap.yaml when installed.
 */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SPIKECAP_CONFIG) return env.SPIKECAP_CONFIG;
  const inCheckout = existsSync(path.join(packageRoot, '.git'));
  return inCheckout
    ? path.join(packageRoot, 'config', 'spikecap.yaml')
    : '/etc/spikecap/spikecap.yaml';
}

/**
 * Reads, overrides, validates and resolves a config. Every problem found is collected, so the
 * operator sees them all at once; any problem throws ConfigError and nothing is returned.
 */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv } = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const explicit = opts.file !== undefined;
  const file = path.resolve(opts.file ?? defaultConfigPath(env));
  const problems: string[] = [];

  let raw: unknown = {};
  let usedFile: string | undefined = file;
  if (!existsSync(file)) {
    if (explicit || env.SPIKECAP_CONFIG) throw new ConfigError(file, [`file not found: ${file}`]);
    usedFile = undefined;
  } else {
    raw = readYaml(file, problems);
  }
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push(
      `(top level): expected a mapping of settings, got ${Array.isArray(raw) ? 'a list' : typeof raw}`,
    );
    raw = {};
  }

  const envOverrides = applyEnv(raw as Record<string, unknown>, env, problems);
  if (problems.length) throw new ConfigError(usedFile, problems);

  const { validate } = configSchema();
  if (!validate(raw)) {
    const lines = (validate.errors ?? []).map(describeSchemaError);
    throw new ConfigError(usedFile, [...new Set(lines)]);
  }
  const config = raw;
  const baseDir = usedFile ? path.dirname(usedFile) : process.cwd();
  const resolved = resolveConfig(config, baseDir, problems);
  // TLS files, like every path in the config, are relative to the config file.
  const tls = config.redis.tls;
  if (tls)
    for (const k of ['ca', 'cert', 'key'] as const)
      if (tls[k] !== undefined) tls[k] = path.resolve(baseDir, tls[k]);
  if (problems.length) throw new ConfigError(usedFile, problems);
  return { config, resolved, file: usedFile, envOverrides };
}

function readYaml(file: string, problems: string[]): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`cannot read ${file}: ${(err as Error).message}`);
    return {};
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  for (const e of doc.errors) problems.push(yamlProblem(e));
  return doc.errors.length ? {} : (doc.toJS() as unknown);
}

function yamlProblem(e: YAMLParseError): string {
  const pos = e.linePos?.[0];
  const where = pos ? `line ${pos.line}, column ${pos.col}` : 'YAML';
  return `${where}: ${e.message.split('\n')[0]}`;
}

/**
 * `SPIKECAP_REDIS__URL=...` sets redis.url; `__` separates levels, single `_` stays part of a key
 * (`SPIKECAP_STORE__SPOOL__MAX_BYTES`). Values are read as YAML, so `5`, `true` and `[a, b]` work.
 */
function applyEnv(
  target: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  problems: string[],
): { variable: string; path: string }[] {
  const applied: { variable: string; path: string }[] = [];
  for (const [name, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!name.startsWith(ENV_PREFIX) || ENV_NOT_KEYS.has(name) || value === undefined) continue;
    const keys = name.slice(ENV_PREFIX.length).toLowerCase().split('__');
    if (keys.some((k) => k === '')) {
      problems.push(`${name}: cannot be mapped to a config key (empty level)`);
      continue;
    }
    // Keys the schema types as strings take the text as it is (a password "123456" stays a
    // string); others are read as YAML, so numbers, booleans and lists work.
    let parsed: unknown = value;
    if (schemaTypeAt(keys) !== 'string') {
      try {
        parsed = parseYaml(value) ?? value;
      } catch {
        parsed = value;
      }
    }
    let node = target;
    for (const key of keys.slice(0, -1)) {
      const next = node[key];
      if (next === undefined) node[key] = {};
      else if (typeof next !== 'object' || next === null || Array.isArray(next)) {
        problems.push(`${name}: ${keys.join('.')} cannot be set, ${key} is not a mapping`);
        node = {};
        continue;
      }
      node = node[key] as Record<string, unknown>;
    }
    node[keys[keys.length - 1]!] = parsed;
    applied.push({ variable: name, path: keys.join('.') });
  }
  return applied;
}

function schemaTypeAt(keys: string[]): unknown {
  let node: Record<string, unknown> | undefined = configSchema().schema;
  for (const k of keys)
    node = (node?.properties as Record<string, Record<string, unknown>> | undefined)?.[k];
  return node?.type;
}

/** The config with secrets masked, for printing. */
export function redactConfig(config: SpikecapConfig): SpikecapConfig {
  const copy = structuredClone(config);
  if (copy.redis.password !== undefined) copy.redis.password = '***';
  copy.redis.url = redactUrl(copy.redis.url);
  return copy;
}
