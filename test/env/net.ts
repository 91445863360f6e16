// Small network helpers for the test environment: free loopback ports and HTTP(S) probes.

import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr !== null && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('no port assigned'));
      });
    });
  });
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
