// Small network helpers for the test environment: free loopback ports and HTTP(S) probes.

import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:net';

/**
 * `count` distinct TCP ports on 127.0.0.1 that were free a moment ago. All listeners stay open until
 * every port is chosen, so the same port is never handed out twice.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const srv = createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((srv) => {
      const addr = srv.address();
      if (addr === null || typeof addr !== 'object') throw new Error('no port assigned');
      return addr.port;
    });
  } finally {
    await Promise.all(servers.map((srv) => new Promise((resolve) => srv.close(resolve))));
  }
}

export interface ProbeOptions {
  /** PEM CA to verify the server against; omitted → do not verify (self-signed component ports). */
  readonly ca?: string | Buffer;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

export interface ProbeResult {
  readonly status: number;
  readonly body: string;
}

/** One GET; rejects on connection errors and time-outs. */
export async function httpGet(url: string, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const u = new URL(url);
  const isHttps = u.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (isHttps ? httpsRequest : httpRequest)(
      u,
      {
        method: 'GET',
        headers: opts.headers,
        timeout: opts.timeoutMs ?? 5000,
        ...(isHttps ? (opts.ca === undefined ? { rejectUnauthorized: false } : { ca: opts.ca }) : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
