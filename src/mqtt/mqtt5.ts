import type { PublishPacket } from 'aedes';
import type { Entry } from '../entry/entry.js';
import { formatHlc } from '../entry/hlc.js';
import type { FleetErrorCode } from '../errors.js';

/**
 * What MQTT 5 adds to the topic contract (docs/mqtt.md, "MQTT 5"): the
 * reason code a refused publish is acknowledged with, and the user
 * properties that say which write a `state/` or `log/` message carries.
 * A 3.1.1 client gets neither (its packets have no room for them).
 */

/** PUBACK/PUBREC reason codes (MQTT 5 §3.4.2.1) for the refusals a client cannot fix by retrying. */
const REASON_CODES: Partial<Record<FleetErrorCode, number>> = {
  TOPIC_FORBIDDEN: 0x87, // Not authorized
  KEY_INVALID: 0x90, // Topic Name invalid: the key is the topic's suffix
  VALUE_TOO_LARGE: 0x97, // Quota exceeded: an administrative limit (limits.maxValueBytes)
  RETAINED_LIMIT: 0x97, // Quota exceeded: limits.mqttRetainedBytes
  VALUE_INVALID: 0x99, // Payload format invalid
  TTL_INVALID: 0x90, // Topic Name invalid: the ttl is a level of `ttl/<ttl>/<key>`
};
const IMPLEMENTATION_SPECIFIC_ERROR = 0x83;

export function pubackReasonCode(code: FleetErrorCode): number {
  return REASON_CODES[code] ?? IMPLEMENTATION_SPECIFIC_ERROR;
}

/** origin, inc, seq and hlc of the write a message carries, as MQTT 5 user properties. */
export function entryProperties(e: Entry): NonNullable<PublishPacket['properties']> {
  return { userProperties: { origin: e.origin, inc: String(e.inc), seq: String(e.seq), hlc: formatHlc(e.wall, e.logical) } };
}
