// One request to an apiserver with a KubeConfig's TLS and credentials, JSON in and out, bounded in
// time and size. Objects pass through as they are: no client-node model classes, which would drop
// fields they do not know (a CRD's, or a newer release's) from what the agent applies.

import * as http from 'node:http';
import * as https from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import type { KubeConfig } from '@kubernetes/client-node';
import type { RequestLimiter } from './request-limiter.ts';
import { connectProxyAgent } from './proxy.ts';

/** Connections per cluster identity at most; requests beyond wait for a free one (keep-alive). */
export const maxSocketsPerCluster = 16;
const agents = new WeakMap<KubeConfig, http.Agent>();

/**
 * One keep-alive connection pool per KubeConfig: without it every request may open its own TLS
 * connection with its own TLS context, and a burst of applies costs hundreds of MB of native memory.
 * With the cluster's `proxyUrl` (its kubeconfig's, or the environment's: see proxy.ts) the pool's
 * connections are CONNECT tunnels through an HTTP(S) proxy, TLS verified end to end as without one; a
 * SOCKS proxy, or a plain-http server behind a proxy, uses client-node's own agent (`tls.agent`).
 */
function agentFor(kc: KubeConfig, url: URL, tls: https.RequestOptions): http.Agent | undefined {
  const proxyUrl = kc.getCurrentCluster()?.proxyUrl ?? '';
  const connectProxy = /^https?:/.test(proxyUrl);
  if (url.protocol !== 'https:' || (proxyUrl !== '' && !connectProxy)) {
    return tls.agent instanceof http.Agent ? tls.agent : undefined;
  }
  let agent = agents.get(kc);
  if (agent === undefined && connectProxy) {
    agent = connectProxyAgent(new URL(proxyUrl), { keepAlive: true, maxSockets: maxSocketsPerCluster });
    agents.set(kc, agent);
  }
  if (agent === undefined) {
    const { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } = tls;
    agent = new https.Agent({
      keepAlive: true,
      maxSockets: maxSocketsPerCluster,
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
      ...(pfx === undefined ? {} : { pfx }),
      ...(passphrase === undefined ? {} : { passphrase }),
      ...(rejectUnauthorized === undefined ? {} : { rejectUnauthorized }),
      ...(servername === undefined ? {} : { servername }),
    });
    agents.set(kc, agent);
  }
  return agent;
}

export interface RawResponse {
  readonly status: number;
  readonly body: string;
}

export interface RawRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly body?: string;
  readonly contentType?: string;
  readonly timeoutMs?: number;
  readonly maxBodyBytes?: number;
  /** Waited on before the request is sent (the child's --kube-api-qps); its timeout starts after. */
  readonly limiter?: RequestLimiter | undefined;
  /** Aborts the limiter wait and the request (the caller's work ended, e.g. with a leadership term). */
  readonly signal?: AbortSignal | undefined;
}

export async function rawRequest(kc: KubeConfig, req: RawRequest): Promise<RawResponse> {
  const { timeoutMs = 30_000, maxBodyBytes = 16 * 1024 * 1024 } = req;
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) throw new Error('the kubeconfig has no current cluster');
  // Relative to the server URL, so a path prefix in it (a parent behind a path) is kept, as client-go keeps it.
  const url = new URL(req.path.replace(/^\/+/, ''), server.endsWith('/') ? server : `${server}/`);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (req.body !== undefined) {
    headers['Content-Type'] = req.contentType ?? 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(req.body));
  }
  const opts: https.RequestOptions = { method: req.method, headers };
  if (req.limiter !== undefined) await req.limiter.wait(req.signal);
  req.signal?.throwIfAborted();
  await kc.applyToHTTPSOptions(opts);
  const transport = url.protocol === 'http:' ? http : https;
  const agent = agentFor(kc, url, opts);
  return new Promise<RawResponse>((resolve, reject) => {
    const r = transport.request(
      url,
      {
        ...opts,
        ...(agent === undefined ? {} : { agent }),
        ...(req.signal === undefined ? {} : { signal: req.signal }),
        timeout: timeoutMs,
      },
      (res) => {
        // Each chunk decoded as it arrives, so its native buffer dies young (a page of a big list is
        // megabytes: kept as buffers, then copied whole by Buffer.concat, it went to the C allocator,
        // which kept it resident after the list).
        const decoder = new StringDecoder('utf8');
        const parts: string[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= maxBodyBytes) parts.push(decoder.write(chunk));
          else res.destroy(new Error(`${req.method} ${req.path}: answer larger than ${String(maxBodyBytes)} bytes`));
        });
        res.on('end', () => {
          parts.push(decoder.end());
          resolve({ status: res.statusCode ?? 0, body: parts.join('') });
        });
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`${req.method} ${req.path} timed out after ${String(timeoutMs)} ms`)));
    r.on('error', reject);
    r.end(req.body);
  });
}

/** The `message` of a Kubernetes Status body, or the HTTP status. */
export function statusText(res: RawResponse): string {
  try {
    const parsed = JSON.parse(res.body) as { message?: unknown };
    if (typeof parsed.message === 'string' && parsed.message !== '') return parsed.message;
  } catch {
    // not JSON
  }
  return `HTTP ${String(res.status)}`;
}
