// The health and metrics server every replica runs (spec §9.1): `--bind-address:--secure-port`,
// HTTPS with the given certificate or an in-memory self-signed one, no authentication (as the Go
// agent). `--insecure-serving` serves plain HTTP instead, for local development.
//
//   /healthz, /healthz/ping, /livez   200 "ok" while the process serves
//   /readyz                           200 when registered (and, with the tunnel enabled, connected)
//   /metrics                          Prometheus text format

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { AgentConfig } from '../config/config.ts';
import type { Logger } from '../logging/logger.ts';
import type { AgentMetrics } from './metrics.ts';
import { selfSignedCertificate, type SelfSignedPair } from './self-signed.ts';

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
export function servingCertificate(serving: AgentConfig['serving'], log: Logger): SelfSignedPair {
  if (serving.tlsCertFile !== '') {
    return {
      certPem: readFileSync(serving.tlsCertFile, 'utf8'),
      keyPem: readFileSync(serving.tlsPrivateKeyFile, 'utf8'),
    };
  }
  const hosts = ['localhost', hostname(), '127.0.0.1', '::1'];
  if (!['', '0.0.0.0', '::'].includes(serving.bindAddress)) hosts.push(serving.bindAddress);
  const commonName = `${hostname()}@${String(Math.floor(Date.now() / 1000))}`;
  if (serving.certDir === '') return selfSignedCertificate(commonName, hosts);
  const certFile = join(serving.certDir, `${certPairName}.crt`);
  const keyFile = join(serving.certDir, `${certPairName}.key`);
  if (existsSync(certFile) && existsSync(keyFile)) {
    return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
  }
  const pair = selfSignedCertificate(commonName, hosts);
  mkdirSync(serving.certDir, { recursive: true, mode: 0o700 });
  writeFileSync(certFile, pair.certPem, { mode: 0o644 });
  writeFileSync(keyFile, pair.keyPem, { mode: 0o600 });
  log.info({ certFile }, 'generated a self-signed serving certificate');
  return pair;
}

export async function startHealthServer(opts: {
  readonly serving: AgentConfig['serving'];
  readonly metrics: AgentMetrics;
  readonly readiness: () => Readiness;
  readonly log: Logger;
}): Promise<HealthServer> {
  const { serving, metrics, readiness, log } = opts;
  const reply = (res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-cache, private' }).end(body);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://agent').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(res, 405, 'method not allowed\n');
      return;
    }
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
  let server: Server;
  if (serving.insecure) {
    server = createHttpServer(listener);
  } else {
    const { certPem, keyPem } = servingCertificate(serving, log);
    server = createHttpsServer({ cert: certPem, key: keyPem, ...tlsVersionOptions(serving.tlsMinVersion) }, listener);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(serving.securePort, serving.bindAddress, () => {
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
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
