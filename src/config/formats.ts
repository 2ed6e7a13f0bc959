import convict from 'convict';

/** Parse "500ms", "60s", "5m", "2h", "7d" or a number of milliseconds. */
export function parseDuration(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v !== 'string') throw new Error(`must be a duration such as "500ms", "60s" or "7d", got ${JSON.stringify(v)}`);
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(v);
  if (!m) throw new Error(`must be a duration such as "500ms", "60s" or "7d", got "${v}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms']!;
  return Math.round(Number(m[1]) * unit);
}

/** Parse "64MiB", "1KiB", "1024" into bytes. */
export function parseBytes(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v !== 'string') throw new Error(`must be a size such as "64MiB", got ${JSON.stringify(v)}`);
  const m = /^\s*(\d+)\s*(B|KiB|MiB|GiB|KB|MB|GB)?\s*$/i.exec(v);
  if (!m) throw new Error(`must be a size such as "64MiB", got "${v}"`);
  const units: Record<string, number> = { b: 1, kib: 1024, kb: 1000, mib: 1 << 20, mb: 1e6, gib: 1 << 30, gb: 1e9 };
  return Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()]!;
}

/** A TCP port, 0–65535 (0 = any free port); as a number or a string of digits (env, flags). */
export function parsePort(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (Number.isNaN(n)) throw new Error('must be a port number (0–65535; 0 = any free port)');
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error('must be a port number from 0 to 65535 (0 = any free port)');
  return n;
}

/** "host:port" list, comma-separated (FLEETKV_PEERS) or an array (config file). */
export function parsePeerList(v: unknown): string[] {
  const list = typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v : null;
  if (list === null) throw new Error('must be a list of host:port');
  const out: string[] = [];
  for (const raw of list) {
    const s = String(raw).trim();
    if (s === '') continue;
    const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(s);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new Error(`peer "${s}" is not host:port`);
    out.push(s);
  }
  return out;
}

/** MQTT topic filters, comma-separated (FLEETKV_MQTT_MIRROR) or an array (config file); checked in load.ts. */
export function parseFilterList(v: unknown): string[] {
  const list = typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v : null;
  if (list === null) throw new Error('must be a list of MQTT topic filters');
  return list.map((f) => String(f).trim()).filter((f) => f !== '');
}

let registered = false;
export function registerFormats(): void {
  if (registered) return;
  registered = true;
  const wrap = (parse: (v: unknown) => unknown) => ({
    validate: (v: unknown) => void parse(v),
    coerce: (v: unknown) => {
      try {
        return parse(v);
      } catch {
        return v; // validate reports it with the key's name
      }
    },
  });
  convict.addFormat({ name: 'duration', ...wrap(parseDuration) });
  convict.addFormat({ name: 'bytes', ...wrap(parseBytes) });
  convict.addFormat({ name: 'peer-list', ...wrap(parsePeerList) });
  convict.addFormat({ name: 'filter-list', ...wrap(parseFilterList) });
  // Replaces convict's own 'port', which calls "abc" out of range.
  convict.addFormat({ name: 'port', ...wrap(parsePort) });
}
