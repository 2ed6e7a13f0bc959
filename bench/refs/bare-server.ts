/**
 * The platform ceiling for a durable HTTP PUT (issue 10, P1): a bare
 * node:http server that appends each body to one file and answers 204 after
 * a shared fdatasync (plain group commit: everything that arrived while the
 * previous fsync ran goes in the next write + fsync). No keys, no framing, no
 * index: what any durable Node HTTP store pays at least.
 *
 *   node bench/refs/bare-server.ts <file>    prints {"port":N} once listening on 127.0.0.1
 */
import fs from 'node:fs';
import http from 'node:http';

const file = process.argv[2];
if (!file) throw new Error('usage: bare-server.ts <file>');
const fd = fs.openSync(file, 'w');
let pos = 0;
let staged: Buffer[] = [];
let waiting: http.ServerResponse[] = [];
let syncing = false;

function pump(): void {
  if (syncing || waiting.length === 0) return;
  const bufs = staged;
  const answer = waiting;
  staged = [];
  waiting = [];
  const all = Buffer.concat(bufs);
  fs.writeSync(fd, all, 0, all.length, pos);
  pos += all.length;
  syncing = true;
  fs.fdatasync(fd, (err) => {
    syncing = false;
    for (const res of answer) {
      res.statusCode = err ? 500 : 204;
      res.end();
    }
    pump();
  });
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    staged.push(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    waiting.push(res);
    setImmediate(pump);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 })}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  fs.closeSync(fd);
  process.exit(0);
});
