import { configSchema, type JsonSchema } from './schema.js';

/**
 * Dotted paths of keys marked `x-restart` in the schema whose value differs between two
 * configs: SIGHUP applies everything else and names these in the log.
 */
export function restartKeysChanged(before: unknown, after: unknown): string[] {
  const changed: string[] = [];
  walk(configSchema().schema, before, after, '', changed);
  return changed;
}

function walk(schema: JsonSchema, a: unknown, b: unknown, at: string, out: string[]): void {
  if (schema['x-restart'] === true) {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(at);
    return;
  }
  const props = schema.properties as Record<string, JsonSchema> | undefined;
  if (!props) return;
  const ao = (a ?? {}) as Record<string, unknown>;
  const bo = (b ?? {}) as Record<string, unknown>;
  for (const [key, sub] of Object.entries(props))
    walk(sub, ao[key], bo[key], at ? `${at}.${key}` : key, out);
}
