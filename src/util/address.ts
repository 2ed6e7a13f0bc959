import net from 'node:net';

/**
 * Whether an address names this machine only: 127.0.0.0/8, ::1, an
 * IPv4-mapped loopback (::ffff:127.x) or "localhost". A listener bound to
 * such an address cannot be reached from the network; a client connecting
 * from one runs on this machine.
 */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined || address === '') return false;
  const a = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (a === 'localhost') return true;
  if (net.isIPv4(a)) return a.startsWith('127.');
  if (net.isIPv6(a)) {
    const lower = a.toLowerCase();
    if (lower === '::1' || lower === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    return mapped !== null && mapped[1]!.startsWith('127.');
  }
  return false;
}
