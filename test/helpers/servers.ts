/**
 * Real servers for tests: a private redis-server (and later mosquitto) on a free loopback
 * port in a temporary directory, started from the binary on PATH and stopped by the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Servers still running when the test process exits are killed with it, never left behind. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), `spikecap-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function waitForPort(
  port: number,
  timeoutMs: number,
  child: ChildProcess,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`${what} exited with code ${child.exitCode} before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a server that hangs without closing its connections (slow, not down). */
  pause(): void;
  resume(): void;
  /** Starts again on the same port (the data is gone: it keeps nothing on disk). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a private redis-server. With `persist`, every write is fsynced to an append-only
 * file so the data survives kill(); without, a restart is a clean Redis.
 */
export async function startRedis(
  opts: { persist?: boolean; args?: string[] } = {},
): Promise<RedisServer> {
  const port = await freePort();
  const tmp = tempDir('redis');
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        opts.persist ? 'yes' : 'no',
        '--appendfsync',
        'always',
        '--dir',
        tmp.dir,
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
        ...(opts.args ?? []),
      ],
      { stdio: 'ignore' },
    );
    child.once('error', () => undefined);
    running.add(child);
    child.once('exit', () => running.delete(child!));
    await waitForPort(port, 10_000, child, 'redis-server');
  };
  const kill = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    dir: tmp.dir,
    kill,
    start,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    stop: async () => {
      await kill();
      tmp.remove();
    },
  };
}
