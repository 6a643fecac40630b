import type { SeriesMeta } from './sample.js';

const metas = new Map<string, SeriesMeta>();

/** Shared, frozen meta objects: thousands of series share a handful of (family, unit) pairs. */
export function metaOf(family: string, unit: string): SeriesMeta {
  const key = `${family}\0${unit}`;
  let m = metas.get(key);
  if (m === undefined) {
    m = Object.freeze({ unit, family });
    metas.set(key, m);
  }
  return m;
}

/**
 * Names taken from the system (interfaces, devices, cgroup paths) keep their spelling, but
 * control characters and whitespace become `_`: a series name is one line and one token.
 */
export function cleanName(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return s.replace(/[\u0000-\u0020\u007f]/g, '_');
  }
  return s;
}

/** Sensor names and labels (`Package id 0`) become `package_id_0`. */
export function slug(s: string): string {
  const out = s
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return out === '' ? 'unnamed' : out;
}
