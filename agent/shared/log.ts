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

/** What a logger and all its children share, so a reload reaches every component. */
interface LogState {
  threshold: number;
  json: boolean;
  readonly sink: { write(line: string): unknown; isTTY?: boolean };
}

export class Logger {
  private readonly state: LogState;

  constructor(
    opts: LoggerOptions = {},
    private readonly bound: LogFields = {},
    shared?: LogState,
  ) {
    const sink = opts.sink ?? process.stdout;
    this.state = shared ?? {
      sink,
      threshold: LEVELS[opts.level ?? 'info'],
      json: resolveJson(opts.format ?? 'auto', sink),
    };
  }

  /** Changes level and format (SIGHUP reload), for this logger and every child of it. */
  configure(level: LogLevel, format: LogFormat): void {
    this.state.threshold = LEVELS[level];
    this.state.json = resolveJson(format, this.state.sink);
  }

  /** A logger that adds `fields` to every line, e.g. `{ component: 'store' }`. */
  child(fields: LogFields): Logger {
    return new Logger({}, { ...this.bound, ...fields }, this.state);
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

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVELS[level] < this.state.threshold) return;
    const all: LogFields = { ...this.bound, ...fields };
    if (all.err instanceof Error) all.err = describeError(all.err);
    if (this.state.json) {
      this.state.sink.write(
        JSON.stringify({ time: new Date().toISOString(), level, msg, ...all }) + '\n',
      );
    } else {
      const extras = Object.entries(all)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      const time = new Date().toISOString().slice(11, 23);
      this.state.sink.write(
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
    private readonly level: 'warn' | 'error' = 'warn',
  ) {}

  /** Logs at the level given to the constructor (warn unless told otherwise). */
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
      this.log[this.level](msg, fields);
    } else {
      this.suppressed++;
    }
  }
}
