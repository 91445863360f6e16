// HTTP_PROXY / HTTPS_PROXY / NO_PROXY as client-go honours them (spec §1.3): Go's
// http.ProxyFromEnvironment, i.e. golang.org/x/net/http/httpproxy, rule for rule:
// - an https URL goes through HTTPS_PROXY, an http URL through HTTP_PROXY (upper case first, then
//   lower case; no ALL_PROXY); a proxy given without a scheme is `http://`;
// - `localhost` and loopback addresses never go through a proxy;
// - NO_PROXY is a comma-separated list of `*` (nothing is proxied), IP addresses, CIDRs, and domain
//   names (`foo.com` matches it and its subdomains, `.foo.com` and `*.foo.com` only subdomains), each
//   optionally with a port;
// - a kubeconfig cluster's own `proxy-url` wins over the environment (client-go's rest.Config.Proxy).
// The environment is read from what the caller passes (the agent's, at start), never at import. Left
// out: the CGI guard (REQUEST_METHOD; the agent is never a CGI handler).

import { isIPv4 } from 'node:net';
import { domainToASCII } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { ipBytes, splitHostPort } from '../net/address.ts';

export type ProxyEnv = Readonly<Record<string, string | undefined>>;

/** The proxy to reach `url` through, or undefined to go direct. */
export type ProxyFunc = (url: string | URL) => URL | undefined;

/** Never a proxy. */
export const direct: ProxyFunc = () => undefined;

const getEnvAny = (env: ProxyEnv, ...names: string[]): string => {
  for (const n of names) {
    const v = env[n];
    if (v !== undefined && v !== '') return v;
  }
  return '';
};

/** Go's parseProxy: a URL, or `host[:port]` taken as `http://host[:port]`; undefined when bogus. */
function parseProxy(value: string): URL | undefined {
  if (value === '') return undefined;
  const parse = (s: string): URL | undefined => {
    try {
      return new URL(s);
    } catch {
      return undefined;
    }
  };
  const u = parse(value);
  return u === undefined || u.host === '' ? parse(`http://${value}`) : u;
}

const sameIp = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

function inCidr(ip: readonly number[], net: readonly number[], bits: number): boolean {
  if (ip.length !== net.length) return false;
  for (let i = 0; i < net.length; i++) {
    const take = Math.max(0, Math.min(8, bits - i * 8));
    const mask = (0xff << (8 - take)) & 0xff;
    if (((ip[i] ?? 0) & mask) !== ((net[i] ?? 0) & mask)) return false;
  }
  return true;
}

type Matcher =
  | { readonly kind: 'all' }
  | { readonly kind: 'cidr'; readonly net: readonly number[]; readonly bits: number }
  | { readonly kind: 'ip'; readonly ip: readonly number[]; readonly port: string }
  | { readonly kind: 'domain'; readonly suffix: string; readonly port: string; readonly matchHost: boolean };

function parseNoProxy(value: string): Matcher[] {
  const matchers: Matcher[] = [];
  for (const raw of value.split(',')) {
    const p = raw.trim().toLowerCase();
    if (p === '') continue;
    if (p === '*') return [{ kind: 'all' }];
    const cidr = /^(.+)\/(\d+)$/.exec(p);
    if (cidr !== null) {
      const net = ipBytes(cidr[1] ?? '');
      const bits = Number(cidr[2]);
      const width = isIPv4(cidr[1] ?? '') ? 32 : 128;
      if (net !== undefined && bits <= width) {
        // Go keeps an IPv4-mapped IPv6 network as 16 bytes, so it matches nothing: leave it out.
        if (net.length * 8 === width) matchers.push({ kind: 'cidr', net, bits });
        continue;
      }
    }
    // Go's httpproxy: an entry net.SplitHostPort cannot split is all host.
    const split = splitHostPort(p);
    const host = 'error' in split ? p : split.host;
    const port = 'error' in split ? '' : split.port;
    const ip = ipBytes(host);
    if (ip !== undefined) {
      matchers.push({ kind: 'ip', ip, port });
      continue;
    }
    if (host === '') continue;
    const name = host.startsWith('*.') ? host.slice(1) : host;
    const matchHost = !name.startsWith('.');
    const bare = matchHost ? name : name.slice(1);
    // Request host names are punycode (WHATWG URL); so are the entries matched against them.
    const suffix = `.${domainToASCII(bare) || bare}`;
    matchers.push({ kind: 'domain', suffix, port, matchHost });
  }
  return matchers;
}

/** Whether the NO_PROXY entry `m` matches `host` (`ip` its bytes when it is an address) on `port`. */
function bypasses(m: Matcher, host: string, ip: readonly number[] | undefined, port: string): boolean {
  switch (m.kind) {
    case 'all':
      return true;
    case 'cidr':
      return ip !== undefined && inCidr(ip, m.net, m.bits);
    case 'ip':
      return ip !== undefined && sameIp(ip, m.ip) && (m.port === '' || m.port === port);
    case 'domain':
      return (
        ip === undefined &&
        (host.endsWith(m.suffix) || (m.matchHost && host === m.suffix.slice(1))) &&
        (m.port === '' || m.port === port)
      );
  }
}

const defaultPorts: Readonly<Record<string, string>> = { http: '80', https: '443', socks5: '1080' };

/** Go's httpproxy.FromEnvironment().ProxyFunc(), on the environment given. */
export function proxyFromEnvironment(env: ProxyEnv): ProxyFunc {
  const httpProxy = parseProxy(getEnvAny(env, 'HTTP_PROXY', 'http_proxy'));
  const httpsProxy = parseProxy(getEnvAny(env, 'HTTPS_PROXY', 'https_proxy'));
  const matchers = parseNoProxy(getEnvAny(env, 'NO_PROXY', 'no_proxy'));
  const useProxy = (host: string, port: string): boolean => {
    if (host === 'localhost') return false;
    const ip = ipBytes(host);
    if (ip !== undefined && (ip.length === 4 ? ip[0] === 127 : sameIp(ip, [...Array<number>(15).fill(0), 1]))) {
      return false;
    }
    return !matchers.some((m) => bypasses(m, host, ip, port));
  };
  return (url) => {
    const u = typeof url === 'string' ? new URL(url) : url;
    const scheme = u.protocol.replace(/:$/, '');
    const proxy = scheme === 'https' ? httpsProxy : scheme === 'http' ? httpProxy : undefined;
    if (proxy === undefined) return undefined;
    const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    return useProxy(host, u.port === '' ? (defaultPorts[scheme] ?? '') : u.port) ? proxy : undefined;
  };
}

/** A proxy URL fit for a log line: its credentials, if any, left out. */
export function describeProxy(proxy: URL): string {
  const shown = new URL(proxy.href);
  shown.username = '';
  shown.password = '';
  return shown.href.replace(/\/$/, '');
}

/**
 * The kubeconfig with every cluster that has no `proxy-url` of its own given the proxy `proxyFor`
 * picks for its server (client-node then honours it for API clients and watches, and rawRequest for
 * its own requests). Returns the same KubeConfig; call before its first request.
 */
export function withProxy(kc: KubeConfig, proxyFor: ProxyFunc): KubeConfig {
  kc.clusters = kc.clusters.map((c) => {
    if (c.proxyUrl !== undefined && c.proxyUrl !== '') return c;
    const proxy = proxyFor(c.server);
    return proxy === undefined ? c : { ...c, proxyUrl: proxy.href };
  });
  return kc;
}

/**
 * An agent whose connections are CONNECT tunnels through the HTTP(S) proxy `proxy`; TLS options of the
 * request (CA, server name) apply to the server behind it. A SOCKS proxy is refused, never bypassed.
 */
export function connectProxyAgent(
  proxy: URL,
  opts: { readonly keepAlive?: boolean; readonly maxSockets?: number } = {},
): HttpsProxyAgent<string> {
  if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
    throw new Error(`proxy ${describeProxy(proxy)}: only http and https proxies are supported here`);
  }
  return new HttpsProxyAgent(proxy.href, opts);
}

/**
 * An agent for a websocket (or any https request) to `url` through the proxy `proxyFor` picks, or
 * undefined to connect directly; `ws:`/`wss:` URLs are looked up as `http:`/`https:`.
 */
export function proxyAgentFor(url: string, proxyFor: ProxyFunc): HttpsProxyAgent<string> | undefined {
  const proxy = proxyFor(url.replace(/^ws(s?):/, 'http$1:'));
  return proxy === undefined ? undefined : connectProxyAgent(proxy);
}
