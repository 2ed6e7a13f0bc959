import { FleetError } from '../errors.js';

/** The longest TTL accepted: a year. Anything longer is a mistake, not an expiry. */
export const MAX_TTL_MS = 365 * 24 * 3600 * 1000;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parse a TTL as written on every front door (HTTP `?ttl=`, `--ttl`, MQTT
 * `fleet/set/<key>?ttl=`, the library): `250ms`, `3s`, `5m`, `1h`, or a
 * number of milliseconds. Returns milliseconds, 1 ms ≤ ttl ≤ 365 days;
 * anything else is TTL_INVALID.
 */
export function parseTtl(ttl: string | number): number {
  let ms: number;
  if (typeof ttl === 'number') ms = ttl;
  else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(ttl);
    if (!m) throw new FleetError('TTL_INVALID', `ttl "${ttl.slice(0, 40)}" is not a duration: use a number with ms, s, m or h (e.g. 3s)`);
    ms = Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
  }
  if (!Number.isFinite(ms) || ms < 1) throw new FleetError('TTL_INVALID', `ttl ${String(ttl)} must be at least 1 ms`);
  if (ms > MAX_TTL_MS) throw new FleetError('TTL_INVALID', `ttl ${String(ttl)} is longer than the maximum (365 days)`);
  return Math.round(ms);
}
