import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/index.js';
import { redactUrl } from '../shared/redact.js';

export { redactUrl };

export interface RedisConnectOptions {
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** Give up connecting instead of retrying forever (the CLI); the daemon retries forever. */
  failFast?: boolean;
}

/**
 * A Redis client from the config: redis://, rediss:// (TLS) or unix:// URLs, ACL user and
 * password, database index. Commands are not queued while disconnected: the store decides
 * what waits (memory queue, then spool), not the client library.
 */
export function connectRedis(cfg: RedisConfig, opts: RedisConnectOptions): Redis {
  const url = new URL(cfg.url);
  const base: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: opts.connectTimeoutMs,
    commandTimeout: opts.commandTimeoutMs,
    // Reconnect quickly at first, then every 2 s: a local Redis restart takes about a second.
    retryStrategy: (times) =>
      opts.failFast ? null : Math.min(100 * 2 ** Math.min(times, 5), 2000),
  };
  const db = cfg.db ?? dbFromUrl(url);
  if (db !== undefined) base.db = db;
  const username = cfg.username ?? (url.username ? decodeURIComponent(url.username) : undefined);
  const password = cfg.password ?? (url.password ? decodeURIComponent(url.password) : undefined);
  if (username) base.username = username;
  if (password) base.password = password;

  if (url.protocol === 'unix:') {
    base.path = decodeURIComponent(url.pathname);
  } else {
    base.host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    base.port = url.port ? Number(url.port) : 6379;
    if (url.protocol === 'rediss:') {
      const tls = cfg.tls;
      base.tls = {
        rejectUnauthorized: tls?.reject_unauthorized ?? true,
        ...(tls?.ca ? { ca: readFileSync(tls.ca) } : {}),
        ...(tls?.cert ? { cert: readFileSync(tls.cert) } : {}),
        ...(tls?.key ? { key: readFileSync(tls.key) } : {}),
        ...(tls?.servername ? { servername: tls.servername } : {}),
      };
    }
  }
  return new Redis(base);
}

function dbFromUrl(url: URL): number | undefined {
  const text =
    url.protocol === 'unix:' ? url.searchParams.get('db') : url.pathname.replace(/^\//, '');
  if (!text) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0)
    throw new TypeError(`redis.url: bad database index "${text}" in ${url.href}`);
  return n;
}

/**
 * Connects once, for commands that give up rather than retry. When ioredis only says
 * "Connection is closed.", the error it emitted before (refused, WRONGPASS, TLS) is the one
 * worth showing, so it is what the thrown error says.
 */
export async function connectOnce(redis: Redis, url: string): Promise<void> {
  let last: Error | undefined;
  const onError = (err: Error): void => {
    last = err;
  };
  redis.on('error', onError);
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`cannot reach Redis at ${redactUrl(url)}: ${(last ?? (err as Error)).message}`);
  } finally {
    redis.off('error', onError);
  }
}
