/** Runs the real `spikecap` executable as a child process, the way systemd or an operator would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../agent/shared/paths.js';

export const CLI = path.join(packageRoot, 'dist', 'agent', 'cli', 'main.js');

export interface AgentProcess {
  child: ChildProcess;
  /** Every line written to stdout so far (JSON logs when not a terminal). */
  lines: string[];
  stderr: string[];
  /** Resolves with the first log line whose msg matches. */
  waitForLog(msg: string | RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Writes a config file for a test agent and returns its path. */
export function writeAgentConfig(
  dir: string,
  redisUrl: string,
  extra = '',
  node = 'testnode',
): string {
  const file = path.join(dir, 'spikecap.yaml');
  writeFileSync(
    file,
    `node: { name: ${node} }
state_dir: ${JSON.stringify(path.join(dir, 'state'))}
log: { level: debug, format: json }
redis: { url: ${JSON.stringify(redisUrl)}, connect_timeout: 500ms, command_timeout: 1s }
${extra}
`,
  );
  return file;
}

const children = new Set<ChildProcess>();

/**
 * Kills every CLI process a test started and that is still running: call it from `after()`,
 * so a failed assertion cannot leave an agent behind that keeps the test file from exiting.
 */
export function killAll(): void {
  for (const c of children) c.kill('SIGKILL');
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): AgentProcess {
  // The executable itself, as a user or systemd runs it (its shebang carries the node flags).
  const child = spawn(CLI, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const lines: string[] = [];
  const stderr: string[] = [];
  const waiters: { re: RegExp; resolve: (o: Record<string, unknown>) => void }[] = [];
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      let obj: Record<string, unknown> | undefined;
      try {
        obj = JSON.parse(line) as Record<string, unknown>;
      } catch {
        obj = undefined;
      }
      for (const w of [...waiters]) {
        if (obj && typeof obj.msg === 'string' && w.re.test(obj.msg)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(obj);
        }
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => stderr.push(c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines,
    stderr,
    exited,
    waitForLog(msg, timeoutMs = 15_000) {
      const re =
        typeof msg === 'string'
          ? new RegExp(`^${msg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`)
          : msg;
      for (const line of lines) {
        try {
          const obj = JSON.parse(line) as Record<string, unknown>;
          if (typeof obj.msg === 'string' && re.test(obj.msg)) return Promise.resolve(obj);
        } catch {
          /* not JSON */
        }
      }
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () =>
            reject(
              new Error(
                `no log line matching ${re} within ${timeoutMs} ms; stderr: ${stderr.join('')}; last lines:\n${lines.slice(-10).join('\n')}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          re,
          resolve: (o) => {
            clearTimeout(t);
            resolve(o);
          },
        });
      });
    },
  };
}

/** Runs the CLI to completion and returns its exit code and output. */
export async function runCliToEnd(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = runCli(args, env);
  const { code } = await p.exited;
  return { code, stdout: p.lines.join('\n'), stderr: p.stderr.join('') };
}
