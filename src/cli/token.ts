import type { Command } from 'commander';
import { hashToken, newToken } from '../http/auth.js';

interface TokenOptions {
  read?: string[];
  write?: string[];
}

/**
 * `fleetkv token <name>`: make a new HTTP bearer token. Prints the token
 * once (give it to the client: FLEETKV_HTTP_TOKEN for the CLI) and the
 * `http.tokens` entry for the node's config, which holds only its SHA-256.
 */
export function registerToken(program: Command): void {
  program
    .command('token <name>')
    .description('make an HTTP API token: prints the token and the http.tokens entry (its hash) for the config')
    .option('--read <prefixes...>', 'key prefixes the token may read (default: every key)')
    .option('--write <prefixes...>', 'key prefixes the token may write (default: none; "" = every key)')
    .action((name: string, o: TokenOptions) => {
      const token = newToken();
      const entry = { hash: hashToken(token), read: o.read ?? [''], write: o.write ?? [] };
      process.stdout.write(`token: ${token}\n`);
      process.stdout.write(`config: ${JSON.stringify({ http: { tokens: { [name]: entry } } })}\n`);
    });
}
