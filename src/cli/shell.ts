import readline from 'node:readline';
import type { NodeClient } from './client.js';
import { isFleetError } from '../errors.js';
import { splitWords } from './words.js';

const HELP = `Commands:
  put <key> <value>   store a value          get <key>        read a value
  del <key>           delete a key           ls [prefix]      list keys
  status              node status            help             this text
  exit | quit         leave the shell
Quotes as in a shell: put robots/r1/note "hello world" stores hello world;
'single quotes' are literal, \\ escapes one character, "" is an empty value.
Unquoted words after the key are joined with one space.`;

/**
 * An interactive prompt with the feel of the original prototype:
 *   > put status active
 *   Stored status=active
 *   > get status
 *   Value: active
 */
export async function runShell(client: NodeClient, input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stdout): Promise<void> {
  const rl = readline.createInterface({ input, output, prompt: '> ', terminal: (input as { isTTY?: boolean }).isTTY === true });
  const say = (line: string): void => {
    output.write(`${line}\n`);
  };
  say(`fleetkv shell on ${client.base} — type 'help' for commands`);
  rl.prompt();
  for await (const line of rl) {
    try {
      const [cmd, ...rest] = splitWords(line);
      if (!(await runLine(client, cmd ?? '', rest, say))) break;
    } catch (err) {
      say(isFleetError(err) ? `Error (${err.code}): ${err.message}` : `Error: ${(err as Error).message}`);
    }
    rl.prompt();
  }
  rl.close();
}

async function runLine(client: NodeClient, cmd: string, args: string[], say: (s: string) => void): Promise<boolean> {
  switch (cmd.toLowerCase()) {
    case '':
      return true;
    case 'put':
    case 'set': {
      const key = args[0];
      if (key === undefined || args.length < 2) return usage(say, 'put <key> <value> (quote a value with spaces: "hello world")');
      const value = args.slice(1).join(' ');
      await client.put(key, Buffer.from(value, 'utf8'));
      say(`Stored ${key}=${value}`);
      return true;
    }
    case 'get': {
      if (!args[0]) return usage(say, 'get <key>');
      try {
        say(`Value: ${(await client.get(args[0])).toString('utf8')}`);
      } catch (err) {
        if (isFleetError(err, 'NOT_FOUND')) say(`Key not found: ${args[0]}`);
        else throw err;
      }
      return true;
    }
    case 'del':
    case 'delete': {
      if (!args[0]) return usage(say, 'del <key>');
      await client.del(args[0]);
      say(`Deleted ${args[0]}`);
      return true;
    }
    case 'ls':
    case 'list': {
      const { entries } = await client.list(args[0] ?? '');
      if (entries.length === 0) say('(no keys)');
      for (const e of entries) say(`${e.key}=${e.encoding === 'base64' ? `<${Buffer.from(e.value ?? '', 'base64').length} bytes>` : e.value}`);
      return true;
    }
    case 'status': {
      const s = await client.status();
      say(`Node ${s.nodeId}: ${s.keys} keys, state ${s.state}`);
      return true;
    }
    case 'help':
    case '?':
      say(HELP);
      return true;
    case 'exit':
    case 'quit':
      return false;
    default:
      say(`Unknown command: ${cmd} (type 'help')`);
      return true;
  }
}

function usage(say: (s: string) => void, text: string): boolean {
  say(`Usage: ${text}`);
  return true;
}
