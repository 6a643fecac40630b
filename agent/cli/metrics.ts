import type { Redis } from 'ioredis';
import { ConfigError, loadConfig, type LoadedConfig } from '../config/index.js';
import {
  connectOnce,
  connectRedis,
  findTier,
  seriesGlob,
  listSeries,
  querySeries,
  readLayout,
  writtenUntil,
  type StoreLayout,
} from '../store/index.js';
import { parse, parseTime, UsageError } from './args.js';

export const metricsUsage = `usage:
  spikecap metrics query --series NAME[,NAME...] [--from T] [--to T] [--tier raw|10s|1m|5m] [--json|--csv] [--config FILE]
      T: now, -15m, -2h, unix seconds or ISO time (default: the last 15 minutes).
      --csv writes the canonical trace format (timestamp in unix seconds, one column per series).
  spikecap metrics list [--series GLOB] [--json] [--config FILE]      the series stored, with units
  spikecap metrics tail [--series GLOB] [--json] [--config FILE]      follow new ticks live`;

interface Conn {
  redis: Redis;
  layout: StoreLayout;
  loaded: LoadedConfig;
}

async function connect(configFile: string | undefined): Promise<Conn> {
  const loaded = loadConfig(configFile === undefined ? {} : { file: configFile });
  const { config, resolved } = loaded;
  const redis = connectRedis(config.redis, {
    connectTimeoutMs: resolved.redisConnectTimeoutMs,
    commandTimeoutMs: resolved.redisCommandTimeoutMs,
    failFast: true,
  });
  redis.on('error', () => undefined); // the awaited command reports it
  await connectOnce(redis, config.redis.url);
  const layout = await readLayout(redis, `${config.redis.key_prefix}:${resolved.nodeName}:`);
  return { redis, layout, loaded };
}

export async function metricsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parse(rest, {
    config: { type: 'string' },
    series: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    tier: { type: 'string' },
    json: { type: 'boolean' },
    csv: { type: 'boolean' },
  });
  if (sub !== 'query' && sub !== 'tail' && sub !== 'list')
    throw new UsageError(
      sub ? `unknown metrics subcommand "${sub}"` : 'metrics needs a subcommand',
    );
  let conn: Conn;
  try {
    conn = await connect(values.config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  try {
    if (sub === 'list') return await list(conn, values.series ?? '*', values.json === true);
    if (sub === 'tail') return await tail(conn, values.series ?? '*', values.json === true);
    if (!values.series) throw new UsageError('metrics query needs --series NAME[,NAME...]');
    if (values.json && values.csv) throw new UsageError('choose one of --json and --csv');
    return await query(conn, values.series.split(','), values);
  } finally {
    conn.redis.disconnect();
  }
}

async function list(conn: Conn, glob: string, json: boolean): Promise<number> {
  const re = seriesGlob(glob);
  const all = [...(await listSeries(conn.redis, conn.layout))].filter(([n]) => re.test(n));
  if (json) process.stdout.write(JSON.stringify(all.map(([name, m]) => ({ name, ...m }))) + '\n');
  else for (const [name, m] of all) process.stdout.write(`${name}\t${m.unit}\n`);
  return 0;
}

async function query(
  conn: Conn,
  names: string[],
  v: {
    from?: string | undefined;
    to?: string | undefined;
    tier?: string | undefined;
    json?: boolean | undefined;
    csv?: boolean | undefined;
  },
): Promise<number> {
  const now = Date.now();
  const to = parseTime(v.to ?? 'now', now, '--to');
  const from = parseTime(v.from ?? '-15m', now, '--from');
  if (from > to)
    throw new UsageError(
      `--from (${new Date(from).toISOString()}) is after --to (${new Date(to).toISOString()})`,
    );
  let tier;
  try {
    tier = findTier(conn.layout, v.tier ?? 'raw');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const known = await listSeries(conn.redis, conn.layout);
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length)
    throw new UsageError(
      `--series: no such series: ${unknown.join(', ')} (spikecap metrics list shows them)`,
    );
  const data = await querySeries(conn.redis, conn.layout, tier, names, from, to);
  if (v.json) {
    process.stdout.write(
      JSON.stringify({
        tier: tier.name,
        step_ms: tier.stepMs,
        from,
        to,
        series: Object.fromEntries(data),
      }) + '\n',
    );
    return 0;
  }
  // Wide rows: one line per timestamp, one column per series (the canonical trace format).
  const rows = new Map<number, (number | undefined)[]>();
  names.forEach((n, i) => {
    for (const p of data.get(n) ?? []) {
      let row = rows.get(p.ts);
      if (!row) rows.set(p.ts, (row = new Array<number | undefined>(names.length)));
      row[i] = p.value;
    }
  });
  const ts = [...rows.keys()].sort((a, b) => a - b);
  if (v.csv) {
    process.stdout.write(['timestamp', ...names].join(',') + '\n');
    for (const t of ts)
      process.stdout.write(
        [t / 1000, ...rows.get(t)!.map((x) => (x === undefined ? '' : x))].join(',') + '\n',
      );
  } else {
    process.stdout.write(['time (UTC)'.padEnd(24), ...names].join('  ') + '\n');
    for (const t of ts)
      process.stdout.write(
        [
          new Date(t).toISOString().padEnd(24),
          ...rows.get(t)!.map((x, i) => fmt(x).padStart(names[i]!.length)),
        ].join('  ') + '\n',
      );
    if (ts.length === 0)
      process.stderr.write(
        `no points in ${tier.name} between ${new Date(from).toISOString()} and ${new Date(to).toISOString()}\n`,
      );
  }
  return 0;
}

/** Bytes with a binary prefix for people (`22.83 GiB/s`); everything else as a number. */
function human(x: number, unit: string): string {
  if (!unit.startsWith('bytes') || !Number.isFinite(x)) return `${fmt(x)} ${unit}`;
  const prefixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi'];
  let v = x;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < prefixes.length - 1) {
    v /= 1024;
    i++;
  }
  const suffix = unit === 'bytes_per_s' ? '/s' : '';
  return `${i === 0 ? String(Math.round(v)) : v.toFixed(2)} ${prefixes[i]}B${suffix}`;
}

function fmt(x: number | undefined): string {
  if (x === undefined) return '-';
  const a = Math.abs(x);
  return a !== 0 && (a >= 1e7 || a < 1e-3)
    ? x.toExponential(4)
    : String(Math.round(x * 1000) / 1000);
}

async function tail(conn: Conn, glob: string, json: boolean): Promise<number> {
  const re = seriesGlob(glob);
  let names: string[] = [];
  let units = new Map<string, string>();
  let last = (await writtenUntil(conn.redis, conn.layout)) ?? Date.now();
  let stop = false;
  const onSig = (): void => {
    stop = true;
  };
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  let refresh = 0;
  while (!stop) {
    if (refresh-- <= 0) {
      const all = await listSeries(conn.redis, conn.layout);
      names = [...all.keys()].filter((n) => re.test(n));
      units = new Map([...all].map(([n, m]) => [n, m.unit]));
      refresh = 30;
      if (names.length === 0 && !json) process.stderr.write(`no series match "${glob}" yet\n`);
    }
    const until = await writtenUntil(conn.redis, conn.layout);
    if (until !== undefined && until > last && names.length) {
      const data = await querySeries(
        conn.redis,
        conn.layout,
        conn.layout.raw,
        names,
        last + 1,
        until,
      );
      const byTs = new Map<number, [string, number][]>();
      for (const [n, points] of data)
        for (const p of points)
          (byTs.get(p.ts) ?? byTs.set(p.ts, []).get(p.ts)!).push([n, p.value]);
      for (const t of [...byTs.keys()].sort((a, b) => a - b)) {
        const row = byTs.get(t)!;
        if (json)
          process.stdout.write(JSON.stringify({ ts: t, values: Object.fromEntries(row) }) + '\n');
        else {
          process.stdout.write(`── ${new Date(t).toISOString()}\n`);
          for (const [n, v] of row)
            process.stdout.write(
              `  ${n.padEnd(48)} ${human(v, units.get(n) ?? '').padStart(16)}\n`,
            );
        }
      }
      last = until;
    }
    await new Promise((r) => setTimeout(r, Math.min(1000, conn.layout.raw.stepMs)));
  }
  return 0;
}
