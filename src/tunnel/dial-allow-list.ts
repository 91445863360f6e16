// Which addresses the parent may dial through the tunnel. The Go agent allows every address (spec
// §5.7 security note); this agent allows only the child apiserver by default, widened by
// `--tunnel-allowed-targets` (`*` restores the Go behaviour). Refused dials are answered per stream.

export interface DialAllowList {
  readonly all: boolean;
  readonly addresses: ReadonlySet<string>;
}

/** `host:port` in a comparable form: host lower-cased, IPv6 without brackets. */
export function normaliseAddress(address: string): string | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address.trim());
  if (m === null) return undefined;
  const host = (m[1] ?? m[2] ?? '').toLowerCase();
  const port = Number(m[3]);
  if (host === '' || port < 1 || port > 65535) return undefined;
  return `${host}:${String(port)}`;
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

export function dialAllowed(list: DialAllowList, network: string, address: string): boolean {
  if (network !== 'tcp' && network !== 'tcp4' && network !== 'tcp6') return false;
  if (list.all) return true;
  const n = normaliseAddress(address);
  return n !== undefined && list.addresses.has(n);
}
