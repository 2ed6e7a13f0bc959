import { Aedes } from 'aedes';
import net from 'node:net';
import mqtt from 'mqtt';
import { spawn } from 'node:child_process';
const broker = await Aedes.createBroker({ concurrency: Number(process.env.CONC ?? 100) });
const server = net.createServer((s) => { s.setNoDelay(true); broker.handle(s); });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
const N = 50000;
const retain = process.env.RETAIN === '1';
let received = 0;
let child;
if (process.env.EXT) {
  child = spawn('mosquitto_sub', ['-p', String(port), '-t', 'fleet/state/#', '-C', String(N)], { stdio: ['ignore', 'ignore', 'inherit'] });
  await new Promise((r) => setTimeout(r, 500));
} else {
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0 });
  sub.on('message', () => received++);
  await sub.subscribeAsync('fleet/state/#');
}
const t0 = performance.now();
let pending = 0;
for (let i = 0; i < N; i++) { pending++; broker.publish({ cmd: 'publish', topic: `fleet/state/peer/k${i % 10000}`, payload: Buffer.alloc(100), qos: 0, retain, dup: false }, () => pending--); if (i % 1000 === 0) await new Promise((r) => setImmediate(r)); }
if (child) await new Promise((r) => child.once('exit', r));
else while (received < N) await new Promise((r) => setTimeout(r, 5));
console.log(`retain=${retain} ext=${!!process.env.EXT} conc=${process.env.CONC ?? 100}`, Math.round(N / (performance.now() - t0) * 1000), '/s');
process.exit(0);
