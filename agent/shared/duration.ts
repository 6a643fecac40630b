/** Durations in config are strings such as `500ms`, `10s`, `5m`, `1h`, `35d`. */
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_RE = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$/;

/** Parses a duration string into milliseconds; throws a TypeError naming the bad text. */
export function parseDuration(text: string): number {
  const m = DURATION_RE.exec(text.trim());
  if (!m)
    throw new TypeError(`expected a duration such as 500ms, 10s, 5m, 1h or 35d, got "${text}"`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
}

/** Formats milliseconds with the largest unit that divides them exactly (`300000` → `5m`). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
