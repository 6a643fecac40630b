/**
 * systemd's notify protocol (Type=notify): READY=1, STATUS=..., WATCHDOG=1, STOPPING=1 sent to
 * $NOTIFY_SOCKET through the native addon. Without NOTIFY_SOCKET (not under systemd) it does
 * nothing. A failed send is logged once and never stops the agent.
 */
import type { Logger } from '../shared/log.js';
import { loadNative, type NativeAddon } from '../shared/native.js';

export class SdNotifier {
  private readonly socket: string | undefined;
  private addon: NativeAddon | undefined;
  private warned = false;
  /** Half of WATCHDOG_USEC in ms when systemd asked for keep-alives (and they are for us). */
  readonly watchdogEveryMs: number | undefined;

  constructor(
    private readonly log: Logger,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.socket = env.NOTIFY_SOCKET || undefined;
    const usec = Number(env.WATCHDOG_USEC);
    const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid;
    this.watchdogEveryMs =
      this.socket && usec > 0 && forUs ? Math.max(1, Math.floor(usec / 2000)) : undefined;
    if (this.socket) {
      try {
        this.addon = loadNative();
      } catch (err) {
        log.error('running under systemd notify but the native addon is missing', { err });
      }
    }
  }

  get enabled(): boolean {
    return this.addon !== undefined;
  }

  /** Sends `KEY=value` lines, e.g. `{ READY: '1', STATUS: 'sampling 68 series' }`. */
  notify(fields: Record<string, string>): void {
    if (!this.addon || !this.socket) return;
    const msg = Object.entries(fields)
      .map(([k, v]) => `${k}=${v.replace(/\n/g, ' ')}`)
      .join('\n');
    try {
      this.addon.sdNotify(this.socket, msg);
    } catch (err) {
      if (!this.warned) this.log.warn('sd_notify failed', { err, socket: this.socket });
      this.warned = true;
    }
  }
}
