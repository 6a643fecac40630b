/**
 * `spikecap board`: talk to a spikecap board over its serial port (firmware-bridge/PROTOCOL.md),
 * or run the virtual board in the foreground.
 */
import { spawn } from 'node:child_process';
import {
  BoardClient,
  ensureVirtualBoard,
  modelImage,
  type BoardClientOptions,
  type HelloInfo,
} from '../../firmware-bridge/host/index.js';
import { readBundle } from '../model/index.js';
import { parse, UsageError } from './args.js';
import { context } from './backend.js';

export const boardUsage = `usage:
  spikecap board info [--port P] [--json]       firmware, limits, boot id, the model it holds
  spikecap board upload [--port P] FILE [--json]
      upload a model bundle (resumes an interrupted upload of the same model)
  spikecap board stats [--port P] [--json]      the device's and this link's counters
  spikecap board reset [--port P] [--reboot]    reservoir state to zero (or reboot the board)
  spikecap board emulate [--link PATH] [--ber RATE] [--drop RATE] [--delay MS] [--jitter MS]
      [--stall-after N] [--stall-ms MS] [--reset-every N] [--vanish-after N] [--vanish-ms MS]
      [--seed S]
      the virtual board on a pseudo-terminal, in the foreground (built first if needed); it
      prints the path to use as --port, and injects the faults asked for
  --port defaults to backends.serial_port of the config; --baud to backends.serial_baud.`;

/** The port and baud rate: the command line, else the config (as `backend` reads them). */
function link(values: { config?: string; port?: string; baud?: string }): {
  port: string;
  options: BoardClientOptions;
} {
  const { serialPort, serialBaud } = context(values).settings;
  if (serialPort === undefined)
    throw new UsageError('no serial port: give --port P, or set backends.serial_port');
  return { port: serialPort, options: serialBaud === undefined ? {} : { baudRate: serialBaud } };
}

function describe(h: HelloInfo, port: string): string {
  const l = h.limits;
  const fw = h.firmware;
  return (
    `port:      ${port}\n` +
    `firmware:  ${fw.name} ${fw.major}.${fw.minor}.${fw.patch} (protocol ${h.protoMajor}.${h.protoMinor})\n` +
    `boot id:   ${h.bootId.toString(16).padStart(8, '0')}\n` +
    `limits:    ${l.maxNeurons} neurons, ${l.maxInputs} inputs, fan-out ${l.maxFanout}, ` +
    `${l.maxSubsteps} sub-steps, image ${l.maxImage} B, frame payload ${l.maxPayload} B, ` +
    `upload window ${l.rxWindow}\n` +
    `model:     ${h.modelLoaded ? `loaded, image sha256 ${h.modelSha256}` : 'none'}\n` +
    (h.upload.active
      ? `upload:    in progress, ${h.upload.offset} B received of image sha256 ${h.upload.sha256}\n`
      : '')
  );
}

/** A one-line progress bar on stderr when it is a terminal; nothing otherwise. */
function progressBar(): ((sent: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (sent, total) => {
    const width = 30;
    const done = Math.round((width * sent) / total);
    process.stderr.write(
      `\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${sent}/${total} B ` +
        `${((100 * sent) / total).toFixed(0)}%` +
        (sent === total ? '\n' : ''),
    );
  };
}

/** Runs the virtual board in the foreground with the given flags; returns its exit code. */
async function emulate(args: string[]): Promise<number> {
  const exe = ensureVirtualBoard();
  const child = spawn(exe, args, { stdio: 'inherit' });
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

export async function boardCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  // The virtual board parses its own flags (and says which one is wrong).
  if (sub === 'emulate') return emulate(rest);
  const { values, positionals } = parse(
    rest,
    {
      config: { type: 'string' },
      port: { type: 'string' },
      baud: { type: 'string' },
      json: { type: 'boolean' },
      reboot: { type: 'boolean' },
    },
    true,
  );
  const out = (s: string) => process.stdout.write(s);
  const json = (o: unknown) => out(JSON.stringify(o, null, 2) + '\n');
  if (sub !== 'upload' && positionals.length > 0)
    throw new UsageError(`board ${sub}: unexpected argument "${positionals[0]}"`);
  switch (sub) {
    case 'info':
    case 'upload':
    case 'stats':
    case 'reset':
      break;
    default:
      throw new UsageError(
        sub === undefined ? 'board needs a subcommand' : `board: unknown subcommand "${sub}"`,
      );
  }
  let image: Uint8Array | undefined;
  let file: string | undefined;
  if (sub === 'upload') {
    if (positionals.length !== 1) throw new UsageError('board upload needs one FILE');
    file = positionals[0]!;
    image = modelImage(readBundle(file)); // a bad bundle is refused before the port is opened
  }
  const { port, options } = link(values);
  const client = await BoardClient.open(port, options);
  try {
    switch (sub) {
      case 'info': {
        const h = await client.info();
        if (values.json) json({ port, ...h });
        else out(describe(h, port));
        return 0;
      }
      case 'upload': {
        const t0 = performance.now();
        const bar = values.json ? undefined : progressBar();
        await client.upload(image!, bar);
        const seconds = (performance.now() - t0) / 1e3;
        const h = await client.info();
        const result = {
          port,
          file,
          bytes: image!.length,
          seconds: Number(seconds.toFixed(3)),
          bytes_per_s: Math.round(image!.length / seconds),
          model_sha256: h.modelSha256,
        };
        if (values.json) json(result);
        else
          out(
            `uploaded ${file}: ${result.bytes} B in ${result.seconds} s ` +
              `(${(result.bytes_per_s / 1024).toFixed(1)} KiB/s); image sha256 ${result.model_sha256}\n`,
          );
        return 0;
      }
      case 'stats': {
        const device = await client.stats();
        const host = client.counters();
        if (values.json) json({ port, device, host });
        else {
          out(`device (since boot):\n`);
          for (const [k, v] of Object.entries(device)) out(`  ${k.padEnd(16)} ${v}\n`);
          out(`this link (this process):\n`);
          for (const [k, v] of Object.entries(host)) out(`  ${k.padEnd(16)} ${v}\n`);
        }
        return 0;
      }
      default: {
        await client.reset(values.reboot ? 'reboot' : 'state');
        out(values.reboot ? `${port}: rebooting\n` : `${port}: reservoir state set to zero\n`);
        return 0;
      }
    }
  } finally {
    await client.close();
  }
}
