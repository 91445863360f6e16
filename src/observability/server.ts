// The health and metrics server every replica runs (spec §9.1): `--bind-address:--secure-port`,
// HTTPS with the given certificate or an in-memory self-signed one, no authentication (as the Go
// agent). `--insecure-serving` serves plain HTTP instead, for local development.
//
//   /healthz, /healthz/ping, /livez   200 "ok" while the process serves
//   /readyz                           200 when registered (and, with the tunnel enabled, connected)
//   /metrics                          Prometheus text format
//   /debug/pprof/...                  CPU and heap profiles (pprof format) with --profiling (pprof.ts)
//
// TLS as the Go agent's serving options: --tls-min-version, --tls-cipher-suites (Go names mapped to
// OpenSSL's), --tls-sni-cert-key (certificates chosen by the name the client asks for), and
// --permit-port-sharing (SO_REUSEPORT). HTTP/1.1 only: --disable-http2-serving always holds.

import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSecureContext, type SecureContext } from 'node:tls';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { AgentConfig } from '../config/config.ts';
import { serverNameMatches, type SniCertKey } from '../config/tls.ts';
import type { Logger } from '../logging/logger.ts';
import type { AgentMetrics } from './metrics.ts';
import type { Profiler } from './pprof.ts';
import type { SelfSignedPair } from './self-signed.ts';

/**
 * The TLS options for `--tls-min-version`. OpenSSL 3 refuses TLS 1.0 and 1.1 at its default security
 * level; an operator who asks for them (Go's serving options allow them) gets security level 0.
 */
export function tlsVersionOptions(min: AgentConfig['serving']['tlsMinVersion']): {
  minVersion: AgentConfig['serving']['tlsMinVersion'];
  ciphers?: string;
} {
  return min === 'TLSv1' || min === 'TLSv1.1'
    ? { minVersion: min, ciphers: 'DEFAULT@SECLEVEL=0' }
    : { minVersion: min };
}

/** Why the agent is or is not ready, as /readyz reports it. */
export interface Readiness {
  readonly ready: boolean;
  readonly reasons: readonly string[];
}

export interface HealthServer {
  readonly url: string;
  close(): Promise<void>;
}

/** The name of the pair in --cert-dir, as the Go agent's serving options name it. */
export const certPairName = 'clusternet-agent';

/** The serving certificate: the given files, else a pair in --cert-dir (made once), else in memory. */
export async function servingCertificate(serving: AgentConfig['serving'], log: Logger): Promise<SelfSignedPair> {
  if (serving.tlsCertFile !== '') {
    return {
      certPem: readFileSync(serving.tlsCertFile, 'utf8'),
      keyPem: readFileSync(serving.tlsPrivateKeyFile, 'utf8'),
    };
  }
  const hosts = ['localhost', hostname(), '127.0.0.1', '::1'];
  if (!['', '0.0.0.0', '::'].includes(serving.bindAddress)) hosts.push(serving.bindAddress);
  const commonName = `${hostname()}@${String(Math.floor(Date.now() / 1000))}`;
  // The certificate library is imported only to make a certificate (docs/memory.md).
  const selfSigned = async (): Promise<SelfSignedPair> =>
    (await import('./self-signed.ts')).selfSignedCertificate(commonName, hosts);
  if (serving.certDir === '') return selfSigned();
  const certFile = join(serving.certDir, `${certPairName}.crt`);
  const keyFile = join(serving.certDir, `${certPairName}.key`);
  if (existsSync(certFile) && existsSync(keyFile)) {
    return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
  }
  const pair = await selfSigned();
  mkdirSync(serving.certDir, { recursive: true, mode: 0o700 });
  writeFileSync(certFile, pair.certPem, { mode: 0o644 });
  writeFileSync(keyFile, pair.keyPem, { mode: 0o600 });
  log.info({ certFile }, 'generated a self-signed serving certificate');
  return pair;
}

/** The names a certificate serves: its DNS subject alternative names, else its common name. */
export function certificateNames(certPem: string): string[] {
  const cert = new X509Certificate(certPem);
  const dns = (cert.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
  if (dns.length > 0) return dns;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return cn === undefined ? [] : [cn.toLowerCase()];
}

/**
 * `--tls-sni-cert-key` as an SNICallback: the first pair whose names (given, else its certificate's)
 * match the server name the client asks for; the default certificate otherwise. Exact names win over
 * wildcards, as in component-base.
 */
export function sniCallback(
  pairs: readonly SniCertKey[],
  tlsOptions: { minVersion: AgentConfig['serving']['tlsMinVersion']; ciphers?: string },
): ((servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void) | undefined {
  if (pairs.length === 0) return undefined;
  const entries = pairs.map((p) => {
    const cert = readFileSync(p.certFile, 'utf8');
    const key = readFileSync(p.keyFile, 'utf8');
    return {
      names: p.names.length > 0 ? p.names : certificateNames(cert),
      context: createSecureContext({ cert, key, ...tlsOptions }),
    };
  });
  return (servername, cb) => {
    const exact = entries.find((e) => e.names.includes(servername.toLowerCase()));
    const wild = entries.find((e) => e.names.some((n) => serverNameMatches(n, servername)));
    cb(null, (exact ?? wild)?.context);
  };
}

/** The TLS options of the health server, from the serving flags. */
export async function tlsServerOptions(serving: AgentConfig['serving'], log: Logger): Promise<Record<string, unknown>> {
  const { certPem, keyPem } = await servingCertificate(serving, log);
  const version = tlsVersionOptions(serving.tlsMinVersion);
  const ciphers =
    serving.cipherSuites === undefined
      ? version.ciphers
      : version.ciphers === undefined
        ? serving.cipherSuites
        : `${serving.cipherSuites}:@SECLEVEL=0`;
  const tls = { minVersion: version.minVersion, ...(ciphers === undefined ? {} : { ciphers }) };
  const sni = sniCallback(serving.sniCertKeys, tls);
  // With a cipher list the server's order wins, as Go's PreferServerCipherSuites.
  return {
    cert: certPem,
    key: keyPem,
    ...tls,
    ...(serving.cipherSuites === undefined ? {} : { honorCipherOrder: true }),
    ...(sni === undefined ? {} : { SNICallback: sni }),
  };
}

type Reply = (res: ServerResponse, status: number, body: string | Buffer, type?: string) => void;

const pprofIndex = `<html><head><title>/debug/pprof/</title></head><body>
/debug/pprof/<br><br>
<a href="profile?seconds=30">profile</a>: CPU profile (pprof format); ?seconds=N, 30 by default<br>
<a href="heap">heap</a>: sampled live heap (pprof format)<br>
</body></html>
`;

/** The profiler of `--profiling`, and its longest CPU profile. */
interface Pprof {
  readonly profiler: Profiler;
  readonly maxProfileSeconds: number;
}

/** `--profiling`: its module (and the profile encoder) is imported only when the flag is given. */
async function startProfiler(log: Logger): Promise<Pprof> {
  const { Profiler: P, maxProfileSeconds } = await import('./pprof.ts');
  const profiler = new P();
  profiler.startHeapSampling().catch((err: unknown) => {
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'cannot start the heap profiler');
  });
  return { profiler, maxProfileSeconds };
}

/** /debug/pprof/*: true when the path was one of them (answered). */
async function servePprof(url: URL, res: ServerResponse, reply: Reply, pprof: Pprof): Promise<boolean> {
  const { profiler, maxProfileSeconds } = pprof;
  const path = url.pathname;
  if (path === '/debug/pprof' || path === '/debug/pprof/') {
    reply(res, 200, pprofIndex, 'text/html; charset=utf-8');
    return true;
  }
  if (path === '/debug/pprof/profile') {
    const seconds = Number(url.searchParams.get('seconds') ?? '30');
    if (!Number.isInteger(seconds) || seconds <= 0 || seconds > maxProfileSeconds) {
      reply(res, 400, `seconds must be a whole number from 1 to ${String(maxProfileSeconds)}\n`);
      return true;
    }
    const profile = await profiler.cpu(seconds, (ms) => sleep(ms));
    if (profile === undefined)
      reply(res, 500, 'Could not enable CPU profiling: a CPU profile is being taken already\n');
    else reply(res, 200, profile, 'application/octet-stream');
    return true;
  }
  if (path === '/debug/pprof/heap') {
    reply(res, 200, await profiler.heap(), 'application/octet-stream');
    return true;
  }
  return false;
}

export async function startHealthServer(opts: {
  readonly serving: AgentConfig['serving'];
  readonly metrics: AgentMetrics;
  readonly readiness: () => Readiness;
  readonly log: Logger;
  /** `--profiling`: /debug/pprof/ (off when not given). */
  readonly profiling?: boolean;
}): Promise<HealthServer> {
  const { serving, metrics, readiness, log } = opts;
  const pprof = opts.profiling === true ? await startProfiler(log) : undefined;
  const reply: Reply = (res, status, body, type = 'text/plain; charset=utf-8') => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-cache, private' }).end(body);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://agent');
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(res, 405, 'method not allowed\n');
      return;
    }
    if (pprof !== undefined && path.startsWith('/debug/pprof') && (await servePprof(url, res, reply, pprof))) return;
    switch (path) {
      case '/healthz':
      case '/healthz/ping':
      case '/livez':
        reply(res, 200, 'ok');
        return;
      case '/readyz': {
        const r = readiness();
        reply(res, r.ready ? 200 : 503, r.ready ? 'ok' : `not ready: ${r.reasons.join('; ')}\n`);
        return;
      }
      case '/metrics':
        reply(res, 200, await metrics.text(), metrics.contentType);
        return;
      default:
        reply(res, 404, '404 page not found\n');
    }
  };
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err: err instanceof Error ? err.message : String(err) }, 'health server request failed');
      reply(res, 500, 'internal error\n');
    });
  };
  const server: Server = serving.insecure
    ? createHttpServer(listener)
    : createHttpsServer(await tlsServerOptions(serving, log), listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: serving.securePort, host: serving.bindAddress, reusePort: serving.reusePort }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = addr !== null && typeof addr === 'object' ? addr.port : serving.securePort;
  const host = serving.bindAddress.includes(':') ? `[${serving.bindAddress}]` : serving.bindAddress;
  const url = `${serving.insecure ? 'http' : 'https'}://${host}:${String(port)}`;
  log.info({ url }, 'serving health and metrics');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        pprof?.profiler.close();
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
