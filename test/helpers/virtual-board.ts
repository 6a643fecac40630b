/**
 * The virtual board (firmware-bridge/device) for tests: built when missing or stale, started on
 * a `--link` in a fresh temporary directory with the faults asked for, stopped (SIGTERM, then
 * SIGKILL) and cleaned up by `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ensureVirtualBoard } from '../../firmware-bridge/host/index.js';

/** The fault flags of the virtual board (see `virtual-board --help`), camel-cased. */
export interface VirtualBoardFlags {
  readonly ber?: number;
  readonly drop?: number;
  readonly delay?: number;
  readonly jitter?: number;
  readonly stallAfter?: number;
  readonly stallMs?: number;
  readonly resetEvery?: number;
  readonly vanishAfter?: number;
  readonly vanishMs?: number;
  readonly seed?: number;
  /** No protocol: answer each 0x00-ended chunk with this many bytes (benchmarks). */
  readonly rawReply?: number;
}

export interface VirtualBoard {
  /** The `--link` path to open (a symlink to the current pty). */
  readonly path: string;
  /** What the board wrote to stderr so far (its log), for failure messages. */
  log(): string;
  /** Stops the board and waits for it to exit; removes the temporary directory. Idempotent. */
  stop(): Promise<void>;
}

const FLAG_NAMES: Record<keyof VirtualBoardFlags, string> = {
  ber: '--ber',
  drop: '--drop',
  delay: '--delay',
  jitter: '--jitter',
  stallAfter: '--stall-after',
  stallMs: '--stall-ms',
  resetEvery: '--reset-every',
  vanishAfter: '--vanish-after',
  vanishMs: '--vanish-ms',
  seed: '--seed',
  rawReply: '--raw-reply',
};

const STARTUP_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 3_000;

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts a virtual board and resolves once it printed its port (its first stdout line). Builds
 * it first when needed (`make -s -C firmware-bridge/device`).
 */
export async function startVirtualBoard(flags: VirtualBoardFlags = {}): Promise<VirtualBoard> {
  const exe = ensureVirtualBoard();
  const dir = await mkdtemp(path.join(tmpdir(), 'spikecap-vboard-'));
  const link = path.join(dir, 'tty');
  const args = ['--link', link];
  for (const [key, flag] of Object.entries(FLAG_NAMES) as [keyof VirtualBoardFlags, string][]) {
    const v = flags[key];
    if (v !== undefined) args.push(flag, String(v));
  }
  const child = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr = (stderr + s).slice(-20_000);
  });
  const cleanup = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited(child);
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const lines = createInterface({ input: child.stdout });
  try {
    const first = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${exe} printed no port within ${STARTUP_TIMEOUT_MS} ms`)),
        STARTUP_TIMEOUT_MS,
      );
      lines.once('line', (line) => {
        clearTimeout(timer);
        resolve(line.trim());
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(
            `${exe} ${args.join(' ')} exited (${code ?? signal}) before printing its port:\n${stderr}`,
          ),
        );
      });
    });
    if (first !== link)
      throw new Error(`${exe} printed ${JSON.stringify(first)}, expected ${link}`);
  } catch (err) {
    await cleanup();
    throw err;
  }
  // Later lines (the port again after a vanish) are not needed: the link keeps its name.
  lines.on('line', () => {});

  let stopping: Promise<void> | undefined;
  return {
    path: link,
    log: () => stderr,
    stop: () => (stopping ??= cleanup()),
  };
}
