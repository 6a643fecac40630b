import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { configDir } from '../shared/paths.js';
import type { SpikecapConfig } from './schema.generated.js';

export const schemaPath = path.join(configDir, 'spikecap.schema.json');

export type JsonSchema = Record<string, unknown>;

let cached: { schema: JsonSchema; validate: ValidateFunction<SpikecapConfig> } | undefined;

/** The config schema and its compiled validator (fills defaults in place). */
export function configSchema(): { schema: JsonSchema; validate: ValidateFunction<SpikecapConfig> } {
  if (cached) return cached;
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as JsonSchema;
  const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true });
  // Annotations of our own: what a pattern expects in words, and keys needing a restart.
  ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-restart', schemaType: 'boolean' });
  cached = { schema, validate: ajv.compile<SpikecapConfig>(schema) };
  return cached;
}

/** `/store/rollups/0/step` → `store.rollups[0].step` */
export function dottedPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^[0-9]+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out;
}

/** One line per ajv error, prefixed by the dotted path, saying what was expected and what was found. */
export function describeSchemaError(e: ErrorObject): string {
  const at = dottedPath(e.instancePath);
  const prefix = (key: string): string => (at === '' ? key : `${at}.${key}`);
  const secret = /password/i.test(at);
  const got = secret ? 'got a value (hidden)' : `got ${show(e.data)}`;
  const parent = e.parentSchema as Record<string, unknown> | undefined;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys((parent?.properties as Record<string, unknown>) ?? {});
      const near = closest(key, known);
      return `${prefix(key)}: unknown key${near ? ` (did you mean "${near}"?)` : ''}; known keys: ${known.join(', ')}`;
    }
    case 'required':
      return `${prefix((e.params as { missingProperty: string }).missingProperty)}: required key is missing`;
    case 'pattern': {
      const expected =
        typeof parent?.['x-expected'] === 'string'
          ? parent['x-expected']
          : `text matching ${String(e.schema)}`;
      return `${at}: expected ${expected}, ${got}`;
    }
    case 'enum':
      return `${at}: expected one of ${(e.schema as unknown[]).map(String).join(', ')}, ${got}`;
    case 'type':
      return `${at}: expected ${String(e.schema)}, ${got}`;
    default:
      return `${at || '(top level)'}: ${e.message ?? e.keyword}, ${got}`;
  }
}

export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? 'a list' : 'a mapping';
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDist) [best, bestDist] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        prev[j]! + 1,
        cur[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length]!;
}
