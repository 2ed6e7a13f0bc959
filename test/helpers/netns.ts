import { spawnSync } from 'node:child_process';

function run(argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr || r.error?.message}`);
}

/** Whether this machine lets us make network namespaces with iptables and tc (root, iproute2, iptables). */
export const canNetns = process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0 && spawnSync('iptables', ['--version']).status === 0 && spawnSync('tc', ['-V']).status === 0;

/**
 * A network namespace of the test's own, joined to this one by a veth pair:
 * nodes run inside it (`wrap`) and talk to each other over its loopback,
 * where `impair` adds random packet loss (iptables statistic) and a bandwidth
 * cap (tc tbf). The test reaches their HTTP APIs over the veth, unimpaired.
 */
export class NetNs {
  readonly name = `fk${process.pid}${Math.floor(Math.random() * 1e4)}`;
  private readonly net = 16 + Math.floor(Math.random() * 200);
  readonly hostAddress = `10.213.${this.net}.1`;
  /** The namespace's address on the veth (HTTP APIs listen here). */
  readonly address = `10.213.${this.net}.2`;
  private readonly vethHost = `${this.name}h`;

  start(): this {
    run(['ip', 'netns', 'add', this.name]);
    run(['ip', 'link', 'add', this.vethHost, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.name]);
    run(['ip', 'addr', 'add', `${this.hostAddress}/30`, 'dev', this.vethHost]);
    run(['ip', 'link', 'set', this.vethHost, 'up']);
    this.exec(['ip', 'addr', 'add', `${this.address}/30`, 'dev', 'eth0']);
    this.exec(['ip', 'link', 'set', 'eth0', 'up']);
    this.exec(['ip', 'link', 'set', 'lo', 'up']);
    return this;
  }

  exec(argv: string[]): void {
    run(['ip', 'netns', 'exec', this.name, ...argv]);
  }

  readonly wrap = (argv: string[]): string[] => ['ip', 'netns', 'exec', this.name, ...argv];

  /** Lose `lossPercent` % of packets on the namespace's loopback and cap it at `rateKbit`. */
  impair(lossPercent: number, rateKbit: number): void {
    this.exec(['iptables', '-A', 'OUTPUT', '-o', 'lo', '-m', 'statistic', '--mode', 'random', '--probability', String(lossPercent / 100), '-j', 'DROP']);
    this.exec(['tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', `${rateKbit}kbit`, 'burst', '32kbit', 'latency', '400ms']);
  }

  clear(): void {
    this.exec(['iptables', '-F', 'OUTPUT']);
    spawnSync('ip', ['netns', 'exec', this.name, 'tc', 'qdisc', 'del', 'dev', 'lo', 'root']);
  }

  stop(): void {
    spawnSync('ip', ['link', 'del', this.vethHost]);
    spawnSync('ip', ['netns', 'del', this.name]);
  }
}
