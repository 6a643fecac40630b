#!/usr/bin/env -S node --max-semi-space-size=2
// (A 2 MB young generation: an edge daemon allocates little, and its RSS should stay small.)
/** The `spikecap` executable: one binary, subcommands. Exit 0 ok, 1 failure, 2 bad usage or config. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runAgent } from '../service/agent.js';
import { Logger } from '../shared/log.js';
import { packageRoot } from '../shared/paths.js';
import { UsageError, parse } from './args.js';
import { backendCommand, backendUsage } from './backend.js';
import { boardCommand, boardUsage } from './board.js';
import { configCommand, configUsage } from './config.js';
import { evalCommand, evalUsage } from './eval.js';
import { metricsCommand, metricsUsage } from './metrics.js';
import { modelCommand, modelUsage } from './model.js';

const version = (
  JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }
).version;

const usage = `spikecap ${version} — edge agent: host metrics into Redis, demand forecasts, allocation hints

usage: spikecap <command> [options]

commands:
  run [--config FILE]          run the agent (the daemon) in the foreground
  config check [FILE]          validate a config; exit 2 listing every problem
  config print                 show the effective config (file + environment + defaults)
  metrics query|list|tail      read stored series back from Redis
  model new|info|export-onnx   create a reservoir model bundle; describe one; its ONNX graph
  backend list|selftest|bench  the paths that compute the reservoir: which run here, bit-exact, speed
  board info|upload|stats|reset|emulate  a spikecap board on a serial port; the virtual board
  eval FILE[:COL,COL]...       score the forecaster and the baselines on trace files, offline

Every command that touches the agent's world takes --config FILE (default: $SPIKECAP_CONFIG,
else config/spikecap.yaml in a source checkout, /etc/spikecap/spikecap.yaml when installed).
Environment variables override config keys: SPIKECAP_REDIS__URL=redis://... sets redis.url.

${configUsage}
${metricsUsage}
${modelUsage}
${backendUsage}
${boardUsage}
${evalUsage}
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(usage);
      return cmd === undefined ? 2 : 0;
    case '-v':
    case '--version':
      process.stdout.write(`${version}\n`);
      return 0;
    case 'run': {
      const { values } = parse(rest, { config: { type: 'string' } });
      const code = await runAgent({ configFile: values.config, log: new Logger() });
      // Stopped cleanly (or not): leave now rather than wait on any handle a library left open.
      process.exit(code);
    }
    case 'config':
      return configCommand(rest);
    case 'metrics':
      return metricsCommand(rest);
    case 'model':
      return modelCommand(rest);
    case 'backend':
      return backendCommand(rest);
    case 'board':
      return boardCommand(rest);
    case 'eval':
      return evalCommand(rest);
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

// `spikecap metrics list | head`: a closed pipe ends the command quietly, as with any Unix tool.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`spikecap: ${err.message}\nrun spikecap --help for usage\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`spikecap: ${(err as Error).message ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
