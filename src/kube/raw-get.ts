// A plain GET of an apiserver path (health endpoints, /version, list pages) with a KubeConfig's TLS
// and credentials, bounded in time and in size. The body is returned as text: callers parse what they
// need, without client-node's model classes (which triple the memory a big list takes).

import * as http from 'node:http';
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface RawAnswer {
  readonly status: number;
  readonly body: string;
}

export interface RawGetOptions {
  readonly timeoutMs: number;
  /** Bodies longer than this fail the request rather than being cut (default 64 KiB). */
  readonly maxBodyBytes?: number;
}

export async function rawGet(kc: KubeConfig, path: string, options: RawGetOptions): Promise<RawAnswer> {
  const { timeoutMs, maxBodyBytes = 64 * 1024 } = options;
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) throw new Error('the child kubeconfig has no current cluster');
  const url = new URL(path, server.endsWith('/') ? server : `${server}/`);
  const opts: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  const transport = url.protocol === 'http:' ? http : https;
  return new Promise<RawAnswer>((resolve, reject) => {
    const req = transport.request(url, { ...opts, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= maxBodyBytes) chunks.push(chunk);
        else res.destroy(new Error(`GET ${path}: answer larger than ${String(maxBodyBytes)} bytes`));
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out after ${String(timeoutMs)} ms`)));
    req.on('error', reject);
    req.end();
  });
}
