import { execFile } from 'node:child_process';
import type { Logger } from 'pino';

/** How a notification is delivered; tests replace it. */
export type NotifySender = (socket: string, args: string[]) => Promise<void>;

const NOTIFY_TIMEOUT_MS = 10_000;

/**
 * Node has no unix datagram sockets and the sd-notify addon does not build
 * (FACTS.md), so notifications go through systemd's own `systemd-notify`,
 * a child process: the unit needs `NotifyAccess=all`. systemd-notify waits
 * (BARRIER=1) until the manager has read the message, so it is not lost when
 * the short-lived sender exits before systemd looks up its cgroup.
 */
export const systemdNotifySender: NotifySender = (socket, args) =>
  new Promise((resolve, reject) => {
    execFile('systemd-notify', args, { env: { ...process.env, NOTIFY_SOCKET: socket }, timeout: NOTIFY_TIMEOUT_MS }, (err, _out, stderr) => {
      if (err) reject(new Error(`systemd-notify ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });

export interface SdNotifyOptions {
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  send?: NotifySender;
}

/**
 * The sd_notify protocol for a service of `Type=notify`: READY=1 once the
 * node serves, WATCHDOG=1 at half of `WatchdogSec` while it is healthy (a hung
 * node misses pings and systemd restarts it), STOPPING=1 on shutdown.
 * Without $NOTIFY_SOCKET (not under systemd) every call does nothing.
 */
export class SdNotify {
  readonly socket: string | undefined;
  /** Milliseconds between watchdog pings, or undefined when systemd set no watchdog for this process. */
  readonly watchdogMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly logger: Logger | undefined;
  private readonly send: NotifySender;
  private warned = false;

  constructor(opts: SdNotifyOptions = {}) {
    const env = opts.env ?? process.env;
    this.logger = opts.logger;
    this.send = opts.send ?? systemdNotifySender;
    this.socket = env.NOTIFY_SOCKET || undefined;
    const usec = Number(env.WATCHDOG_USEC);
    const forPid = env.WATCHDOG_PID === undefined || env.WATCHDOG_PID === '' || Number(env.WATCHDOG_PID) === process.pid;
    this.watchdogMs = this.socket && forPid && Number.isFinite(usec) && usec > 0 ? Math.max(1, Math.floor(usec / 2000)) : undefined;
    // Like sd_notify(unset_environment=1): our other children must not talk to systemd in our name.
    if (env === process.env) {
      delete process.env.NOTIFY_SOCKET;
      delete process.env.WATCHDOG_USEC;
      delete process.env.WATCHDOG_PID;
    }
  }

  get enabled(): boolean {
    return this.socket !== undefined;
  }

  /** Send `KEY=VALUE` fields; resolves false (after one warning) when delivery failed. */
  async notify(fields: Record<string, string>): Promise<boolean> {
    if (!this.socket) return false;
    const args = Object.entries(fields).map(([k, v]) => `${k}=${v.replace(/\n/g, ' ')}`);
    try {
      await this.send(this.socket, args);
      return true;
    } catch (err) {
      if (!this.warned) {
        this.warned = true;
        this.logger?.warn({ err: (err as Error).message }, 'cannot notify systemd (is systemd-notify installed?): readiness and watchdog pings are not delivered');
      }
      return false;
    }
  }

  ready(status: string): Promise<boolean> {
    return this.notify({ READY: '1', STATUS: status });
  }

  stopping(status = 'stopping'): Promise<boolean> {
    this.stopWatchdog();
    return this.notify({ STOPPING: '1', STATUS: status });
  }

  /**
   * Ping the watchdog every `watchdogMs` while `healthy()` says so. The timer
   * itself proves the event loop turns; `healthy` adds what the node knows.
   * One ping at a time: a ping still in flight skips the next tick.
   */
  startWatchdog(healthy: () => boolean): void {
    if (this.watchdogMs === undefined || this.timer) return;
    let inFlight = false;
    const tick = (): void => {
      if (inFlight) return;
      if (!healthy()) {
        this.logger?.warn('unhealthy: withholding the systemd watchdog ping');
        return;
      }
      inFlight = true;
      void this.notify({ WATCHDOG: '1' }).finally(() => {
        inFlight = false;
      });
    };
    this.timer = setInterval(tick, this.watchdogMs);
    this.timer.unref();
    tick();
  }

  stopWatchdog(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
