import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A usage mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  readonly code = 'EUSAGE';
}

type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  // Let `--from -15m` through: node's parser would take "-15m" for an option.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const opt = a.startsWith('--') ? options[a.slice(2)] : undefined;
    if (opt?.type === 'string' && next !== undefined && /^-[0-9]/.test(next)) {
      args.push(`${a}=${next}`);
      i++;
    } else args.push(a);
  }
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * Times on the command line: `now`, a relative offset (`-15m`, `-2h`, `-1d`), unix seconds,
 * or an ISO 8601 date-time. Returns ms since the epoch.
 */
export function parseTime(text: string, now: number, option: string): number {
  if (text === 'now') return now;
  const rel = /^-([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$/.exec(text);
  if (rel) {
    const unit = { ms: 1, s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[
      rel[2] as 'ms' | 's' | 'm' | 'h' | 'd'
    ];
    return now - Number(rel[1]) * unit;
  }
  if (/^[0-9]+(\.[0-9]+)?$/.test(text)) return Number(text) * 1000;
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new UsageError(
      `${option}: expected now, -15m style offset, unix seconds or ISO time, got "${text}"`,
    );
  return t;
}
