// Which addresses the parent may dial through the tunnel, and how. The Go agent allows every address
// (spec §5.7 security note); this agent allows only the child apiserver by default, widened by
// `--tunnel-allowed-targets` (`*` restores the Go behaviour). Whatever the list, the address is parsed
// as Go's dialer parses it, and one it cannot dial is refused with Go's wording: every refusal is an
// Error for that stream, never a throw.

import { isIP } from 'node:net';
import { splitHostPort } from '../net/address.ts';

export interface DialAllowList {
  readonly all: boolean;
  readonly addresses: ReadonlySet<string>;
}

/** What to dial, or why not (the text of the stream's Error). */
export type DialTarget =
  | { readonly ok: true; readonly host: string; readonly port: number; readonly family: 4 | 6 | undefined }
  | { readonly ok: false; readonly reason: string; readonly kind: 'not-allowed' | 'bad-address' };

/** A port as Go's dialer reads it: decimal 1–65535 (0 and names are not dialed here). */
function parsePort(network: string, port: string): number | string {
  if (/^\d{1,5}$/.test(port)) {
    const n = Number(port);
    if (n >= 1 && n <= 65535) return n;
  }
  if (port === '' || /^[+-]?\d+$/.test(port)) return `dial ${network}: address ${port}: invalid port`;
  return `dial ${network}: lookup ${network}/${port}: unknown port`;
}

/** `host:port` in a comparable form: host lower-cased, IPv6 without brackets; undefined if not dialable. */
export function normaliseAddress(address: string): string | undefined {
  const split = splitHostPort(address.trim());
  if ('error' in split || split.host === '') return undefined;
  const port = parsePort('tcp', split.port);
  return typeof port === 'number' ? `${split.host.toLowerCase()}:${String(port)}` : undefined;
}

/** The child apiserver's `host:port` from its URL (default port by scheme). */
export function serverAddress(serverUrl: string): string | undefined {
  const u = new URL(serverUrl);
  const port = u.port !== '' ? u.port : u.protocol === 'http:' ? '80' : '443';
  return normaliseAddress(`${u.hostname}:${port}`);
}

export function dialAllowList(childServer: string, extra: readonly string[]): DialAllowList {
  const addresses = new Set<string>();
  const child = serverAddress(childServer);
  if (child !== undefined) addresses.add(child);
  // A loopback child apiserver may be addressed as localhost or 127.0.0.1 alike.
  if (child?.startsWith('127.0.0.1:') === true) addresses.add(child.replace('127.0.0.1', 'localhost'));
  if (child?.startsWith('localhost:') === true) addresses.add(child.replace('localhost', '127.0.0.1'));
  let all = false;
  for (const e of extra) {
    if (e === '*') all = true;
    const n = normaliseAddress(e);
    if (n !== undefined) addresses.add(n);
  }
  return { all, addresses };
}

const families: Readonly<Record<string, 4 | 6 | undefined>> = { tcp: undefined, tcp4: 4, tcp6: 6 };

/**
 * Whether and how to dial `network`/`address` from a Connect: only tcp networks, only listed addresses
 * unless the list is `*`, only addresses Go could dial; `tcp4`/`tcp6` pin the address family.
 */
export function dialTarget(list: DialAllowList, network: string, address: string): DialTarget {
  const notAllowed: DialTarget = { ok: false, reason: 'connect not allowed', kind: 'not-allowed' };
  if (!Object.hasOwn(families, network)) return notAllowed;
  // Parsed once, as it will be dialed: the allow-list is asked about exactly that host and port.
  const split = splitHostPort(address);
  const port = 'error' in split ? undefined : parsePort(network, split.port);
  if (!list.all) {
    const listed =
      !('error' in split) &&
      split.host !== '' &&
      typeof port === 'number' &&
      list.addresses.has(`${split.host.toLowerCase()}:${String(port)}`);
    if (!listed) return notAllowed;
  }
  if ('error' in split) return { ok: false, reason: `dial ${network}: ${split.error}`, kind: 'bad-address' };
  if (typeof port !== 'number') return { ok: false, reason: port ?? 'invalid port', kind: 'bad-address' };
  const family = families[network];
  const literal = isIP(split.host);
  if (family !== undefined && literal !== 0 && literal !== family) {
    return {
      ok: false,
      reason: `dial ${network}: address ${split.host}: no suitable address found`,
      kind: 'bad-address',
    };
  }
  return { ok: true, host: split.host, port, family };
}
