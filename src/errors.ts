/**
 * Typed errors with stable codes. Codes are part of the public contract: the
 * HTTP API, the MQTT errors topic and the CLI all report `code`, and scripts
 * match on it, so never rename one.
 */
export type FleetErrorCode =
  | 'KEY_INVALID'
  | 'VALUE_TOO_LARGE'
  | 'VALUE_INVALID'
  | 'NOT_FOUND'
  | 'DISK_FULL'
  | 'IO_ERROR'
  | 'LOG_CORRUPT'
  | 'DATA_DIR_LOCKED'
  | 'DATA_DIR_MISMATCH'
  | 'NODE_STOPPED'
  | 'NODE_NOT_READY'
  | 'CONFIG_INVALID'
  | 'FRAME_INVALID'
  | 'FRAME_TOO_LARGE'
  | 'PROTOCOL_VERSION'
  | 'FLEET_MISMATCH'
  | 'AUTH_FAILED'
  | 'NODE_ID_CLASH'
  | 'TOPIC_FORBIDDEN'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'CLIENT_ID_REJECTED'
  | 'MQTT_UTF8_INVALID'
  | 'BAD_REQUEST'
  | 'METHOD_NOT_ALLOWED'
  /** A command line the CLI cannot run (exit 64); never sent over the wire. */
  | 'USAGE'
  | 'ROBOT_DOC_INVALID'
  | 'HISTORY_INVALID'
  | 'TTL_INVALID'
  /** GET /v1/kv?limit= above limits.listMax. */
  | 'LIMIT_TOO_LARGE'
  /** A retained MQTT publish outside the prefix would pass limits.mqttRetainedBytes. */
  | 'RETAINED_LIMIT'
  | 'UNAVAILABLE';

/** HTTP status for each code, so every layer maps errors the same way. */
const HTTP_STATUS: Partial<Record<FleetErrorCode, number>> = {
  KEY_INVALID: 400,
  VALUE_INVALID: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  ROBOT_DOC_INVALID: 400,
  HISTORY_INVALID: 400,
  TTL_INVALID: 400,
  LIMIT_TOO_LARGE: 400,
  RETAINED_LIMIT: 413,
  TOPIC_FORBIDDEN: 403,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  VALUE_TOO_LARGE: 413,
  NODE_STOPPED: 503,
  NODE_NOT_READY: 503,
  NODE_ID_CLASH: 409,
  UNAVAILABLE: 503,
  DISK_FULL: 507,
};

export class FleetError extends Error {
  readonly code: FleetErrorCode;
  override readonly cause?: unknown;

  constructor(code: FleetErrorCode, message: string, cause?: unknown) {
    super(message);
    this.name = 'FleetError';
    this.code = code;
    if (cause !== undefined) this.cause = cause;
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.code] ?? 500;
  }

  toJSON(): { code: FleetErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isFleetError(err: unknown, code?: FleetErrorCode): err is FleetError {
  return err instanceof FleetError && (code === undefined || err.code === code);
}

/** Map a Node.js system error from the file layer to a FleetError. */
export function fromIoError(err: unknown, what: string): FleetError {
  if (err instanceof FleetError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG') {
    return new FleetError('DISK_FULL', `${what}: no space left on device (${code})`, err);
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new FleetError('IO_ERROR', `${what}: ${msg}`, err);
}
