import type { IncomingMessage, ServerResponse } from 'node:http';
import { FleetError } from '../errors.js';

/** Refuse a method a route does not serve: 405 METHOD_NOT_ALLOWED with an Allow header. */
export function allowMethods(req: IncomingMessage, res: ServerResponse, methods: readonly string[]): void {
  if (methods.includes(req.method ?? '')) return;
  res.setHeader('allow', methods.join(', '));
  throw new FleetError('METHOD_NOT_ALLOWED', `method ${req.method ?? '?'} is not allowed on ${new URL(req.url ?? '/', 'http://fleetkv').pathname} (allowed: ${methods.join(', ')})`);
}

/** Refuse query parameters a route does not know (a typo or `?ttl=…` would otherwise be ignored silently): 400 BAD_REQUEST. */
export function allowParams(url: URL, names: readonly string[]): void {
  for (const name of url.searchParams.keys()) {
    if (!names.includes(name)) {
      throw new FleetError('BAD_REQUEST', `unknown query parameter "${name}" on ${url.pathname} (${names.length ? `known: ${names.join(', ')}` : 'it takes none'})`);
    }
  }
}
