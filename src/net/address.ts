// Network addresses as Go's net package reads them: `host:port` split as net.SplitHostPort does, and
// IP addresses as bytes (IPv4-mapped IPv6 as 4 bytes, as net.IP.To4). Shared by the tunnel's dial
// allow-list, the proxy rules and the self-signed serving certificate.

import { isIPv4, isIPv6 } from 'node:net';

/**
 * `host:port` split as Go's `net.SplitHostPort` does: the host may be bracketed (IPv6), the port is
 * after the last colon; the error texts are Go's.
 */
export function splitHostPort(address: string): { host: string; port: string } | { error: string } {
  const bad = (why: string): { error: string } => ({ error: `address ${address}: ${why}` });
  const colon = address.lastIndexOf(':');
  if (colon < 0) return bad('missing port in address');
  let host: string;
  let rest: number; // where brackets may no longer appear
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    if (close < 0) return bad("missing ']' in address");
    if (close + 1 === address.length) return bad('missing port in address');
    if (close + 1 !== colon)
      return bad(address[close + 1] === ':' ? 'too many colons in address' : 'missing port in address');
    host = address.slice(1, close);
    rest = close + 1;
    if (address.includes('[', 1)) return bad("unexpected '[' in address");
  } else {
    host = address.slice(0, colon);
    if (host.includes(':')) return bad('too many colons in address');
    if (address.includes('[')) return bad("unexpected '[' in address");
    rest = 0;
  }
  if (address.includes(']', rest)) return bad("unexpected ']' in address");
  return { host, port: address.slice(colon + 1) };
}

/** An IP address as 4 (IPv4, also IPv4-mapped IPv6) or 16 bytes; undefined when not an IP. */
export function ipBytes(text: string): number[] | undefined {
  const s = text.replace(/%.*$/, ''); // an IPv6 zone
  if (isIPv4(s)) return s.split('.').map(Number);
  if (!isIPv6(s)) return undefined;
  let hex = s;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s)?.[1];
  if (v4 !== undefined) {
    const [a = 0, b = 0, c = 0, d = 0] = v4.split('.').map(Number);
    hex = `${s.slice(0, -v4.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = hex.split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = all.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.slice(12) : bytes;
}
