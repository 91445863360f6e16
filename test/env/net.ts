// Small network helpers for the test environment: free loopback ports and HTTP(S) probes.

import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';

/**
 * Ports below Linux's ephemeral range (32768–60999 by default), where outgoing connections take their
 * source ports: a port picked by binding to 0 comes from that range and can be taken by, say, an
 * apiserver's connection to etcd before the component that was meant to listen on it starts.
 */
const listenRange = { from: 20_000, to: 32_767 };

async function canListen(port: number): Promise<boolean> {
  const srv = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', resolve);
    });
    return true;
  } catch {
    return false;
  } finally {
    await new Promise((resolve) => srv.close(resolve));
  }
}

/** `count` distinct ports free to listen on, from below the ephemeral range. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  const span = listenRange.to - listenRange.from + 1;
  for (let tries = 0; ports.size < count; tries++) {
    if (tries > 1000)
      throw new Error(`no ${String(count)} free ports in ${String(listenRange.from)}–${String(listenRange.to)}`);
    const port = listenRange.from + Math.floor(Math.random() * span);
    if (!ports.has(port) && (await canListen(port))) ports.add(port);
  }
  return [...ports];
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
