/**
 * Structured logging: one JSON object per line on stdout (journald stores it as is), or a
 * readable line when stdout is a terminal. Fields are plain data; `err` is expanded.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'auto' | 'json' | 'text';
export type LogFields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go; defaults to process.stdout. */
  sink?: { write(line: string): unknown; isTTY?: boolean };
}

export class Logger {
  private threshold: number;
  private json: boolean;
  private readonly sink: { write(line: string): unknown; isTTY?: boolean };

  constructor(
    opts: LoggerOptions = {},
    private readonly bound: LogFields = {},
  ) {
    this.sink = opts.sink ?? process.stdout;
    this.threshold = LEVELS[opts.level ?? 'info'];
    this.json = resolveJson(opts.format ?? 'auto', this.sink);
  }

  /** Changes level and format in place (SIGHUP reload); children share nothing, so call on each. */
  configure(level: LogLevel, format: LogFormat): void {
    this.threshold = LEVELS[level];
    this.json = resolveJson(format, this.sink);
  }

  /** A logger that adds `fields` to every line, e.g. `{ component: 'store' }`. */
  child(fields: LogFields): Logger {
    const child = new Logger({ sink: this.sink }, { ...this.bound, ...fields });
    child.threshold = this.threshold;
    child.json = this.json;
    return child;
  }

  debug(msg: string, fields?: LogFields): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write('error', msg, fields);
  }

  isEnabled(level: LogLevel): boolean {
    return LEVELS[level] >= this.threshold;
  }

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVELS[level] < this.threshold) return;
    const all: LogFields = { ...this.bound, ...fields };
    if (all.err instanceof Error) all.err = describeError(all.err);
    if (this.json) {
      this.sink.write(
        JSON.stringify({ time: new Date().toISOString(), level, msg, ...all }) + '\n',
      );
    } else {
      const extras = Object.entries(all)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      const time = new Date().toISOString().slice(11, 23);
      this.sink.write(
        `${time} ${level.toUpperCase().padEnd(5)} ${msg}${extras ? '  ' + extras : ''}\n`,
      );
    }
  }
}

function resolveJson(format: LogFormat, sink: { isTTY?: boolean }): boolean {
  return format === 'json' || (format === 'auto' && sink.isTTY !== true);
}

function describeError(err: Error): Record<string, unknown> {
  const code = (err as { code?: unknown }).code;
  return { message: err.message, ...(code === undefined ? {} : { code }), name: err.name };
}

/**
 * Logs at most `perInterval` lines per `intervalMs` for one kind of event, then one summary
 * of how many were suppressed: noisy inputs must not flood the journal.
 */
export class RateLimitedLog {
  private windowStart = 0;
  private count = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly perInterval = 5,
    private readonly intervalMs = 60_000,
  ) {}

  warn(msg: string, fields?: LogFields, now = Date.now()): void {
    if (now - this.windowStart >= this.intervalMs) {
      if (this.suppressed > 0)
        this.log.warn('suppressed repeats', { of: msg, count: this.suppressed });
      this.windowStart = now;
      this.count = 0;
      this.suppressed = 0;
    }
    if (this.count < this.perInterval) {
      this.count++;
      this.log.warn(msg, fields);
    } else {
      this.suppressed++;
    }
  }
}
