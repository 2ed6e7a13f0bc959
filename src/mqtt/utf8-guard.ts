import { isUtf8 } from 'node:buffer';
import type { Client } from 'aedes';
import { FleetError } from '../errors.js';

interface ParserInternals {
  _parseString?: (maybeBuffer?: unknown) => string | null;
  _emitError(err: Error): void;
  _pos: number;
  _list: { slice(start: number, end: number): Buffer };
}

/**
 * Close a connection that sends ill-formed UTF-8 in a string (topic, client
 * id, user name, will topic, subscription filter), as MQTT 3.1.1 requires
 * (MQTT-1.5.3-1). The packet codec decodes such bytes to U+FFFD, so two
 * different bad topics became one and the same key (`a/\xff` and `a/\xfe` were
 * both `a/\uFFFD`). Hooks mqtt-packet's string parser, as limitPacketSize hooks
 * its length parser; only a string that holds U+FFFD has its bytes checked.
 * If Aedes' internals change there is no guard (and bad bytes decode as before).
 */
export function refuseIllFormedUtf8(client: Client, onRefused: (client: Client) => void): void {
  const parser = (client as unknown as { _parser?: ParserInternals })._parser;
  if (!parser?._parseString) return;
  const parseString = parser._parseString.bind(parser);
  parser._parseString = (maybeBuffer?: unknown) => {
    const start = parser._pos + 2; // after the 2-byte length
    const s = parseString(maybeBuffer);
    if (s !== null && s.includes('\uFFFD') && !isUtf8(parser._list.slice(start, parser._pos))) {
      onRefused(client);
      // Stops the parser before it emits the packet; Aedes closes the connection on the error.
      parser._emitError(new FleetError('MQTT_UTF8_INVALID', 'ill-formed UTF-8 in a string (MQTT-1.5.3-1)'));
    }
    return s;
  };
}
