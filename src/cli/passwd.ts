import fs from 'node:fs';
import readline from 'node:readline';
import type { Command } from 'commander';
import type { MqttUserConfig } from '../config/schema.js';
import { FleetError } from '../errors.js';
import { readUsersFile } from '../mqtt/auth.js';
import { hashPassword } from '../mqtt/password.js';

interface PasswdOptions {
  file?: string;
  read?: string[];
  write?: string[];
  readOnly?: boolean;
  clientId?: string[];
}

/**
 * `fleetkv passwd <user>`: hash an MQTT user's password with scrypt. Prints
 * the hash for mqtt.auth.users, or with --file adds/updates the user in a
 * users file (mqtt.auth.usersFile). The password is read from stdin (first
 * line), or prompted for without echo on a terminal.
 */
export function registerPasswd(program: Command): void {
  program
    .command('passwd <user>')
    .description('hash an MQTT user password (scrypt); print it, or store it in a users file with --file')
    .option('-f, --file <usersFile>', 'add or update the user in this JSON users file (created with mode 0600)')
    .option('--read <filters...>', 'topic filters the user may subscribe to (default: all)')
    .option('--write <filters...>', 'topic filters the user may publish to (default: all)')
    .option('--read-only', 'the user may publish nothing (write: [])')
    .option('--client-id <patterns...>', "client ids the user may connect with ('*' any characters, %u the user name); needed for %c in --read/--write")
    .action(async (user: string, o: PasswdOptions) => {
      if (user === '' || /[\s:]/.test(user)) throw new FleetError('USAGE', `user name "${user}" must be non-empty, without spaces or ':'`);
      const password = await readPassword();
      if (password === '') throw new FleetError('USAGE', 'empty password');
      const hash = await hashPassword(password);
      if (!o.file) {
        process.stdout.write(`${hash}\n`);
        return;
      }
      const users: Record<string, MqttUserConfig> = fs.existsSync(o.file) ? readUsersFile(o.file) : {};
      const entry: MqttUserConfig = { ...users[user], password: hash };
      if (o.read) entry.read = o.read;
      if (o.write) entry.write = o.write;
      if (o.readOnly) entry.write = [];
      if (o.clientId) entry.clientIds = o.clientId;
      users[user] = entry;
      const tmp = `${o.file}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, `${JSON.stringify({ users }, null, 2)}\n`, { mode: 0o600 });
      fs.renameSync(tmp, o.file);
      process.stdout.write(`Stored user ${user} in ${o.file}\n`);
    });
}

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  }
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Echo nothing while the password is typed.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  process.stderr.write('Password: ');
  const answer = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stderr.write('\n');
  return answer;
}
