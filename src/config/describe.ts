import { schema } from './schema.js';

interface KeySpec {
  doc: string;
  default: unknown;
  env?: string;
  arg?: string;
}

/** The schema entry of a dotted config key (`mqtt.port`), if there is one. */
export function keySpec(key: string): KeySpec | undefined {
  let node: unknown = schema;
  for (const part of key.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  return node && typeof node === 'object' && 'doc' in node ? (node as KeySpec) : undefined;
}

/** How an operator sets a config key: "--mqtt-port, FLEETKV_MQTT_PORT or mqtt.port in the config file". */
export function howToSet(key: string): string {
  const spec = keySpec(key);
  const ways = [spec?.arg ? `--${spec.arg}` : undefined, spec?.env].filter((w): w is string => w !== undefined);
  return `${ways.length ? `${ways.join(', ')} or ` : ''}${key} in the config file`;
}

/** For a listener that failed to bind: what to change when the address is taken, else ''. */
export function listenHint(err: unknown, portKey: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') return ` (another process uses this port: stop it, or pick another port with ${howToSet(portKey)})`;
  if (code === 'EACCES') return ` (ports below 1024 need privileges: pick another with ${howToSet(portKey)})`;
  return '';
}
