import { pino, type Logger } from 'pino';

/**
 * pino: JSON lines on stdout (journald keeps them), pretty when stdout is a
 * terminal. FLEETKV_LOG_PRETTY=0/1 forces either.
 */
export function createLogger(level: string, nodeId: string): Logger {
  const forced = process.env.FLEETKV_LOG_PRETTY;
  const pretty = forced !== undefined ? forced === '1' : process.stdout.isTTY === true;
  if (pretty) {
    return pino({
      level,
      base: { node: nodeId },
      transport: { target: 'pino-pretty', options: { colorize: process.stdout.isTTY === true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino({ level, base: { node: nodeId } });
}
