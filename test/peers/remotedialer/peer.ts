// Runs the Go remotedialer test server (test/peers/remotedialer/server) as the parent side of the
// tunnel, with TLS from a CA this helper makes, and the plain Go remotedialer client as the reference
// agent. Binaries come from test/env/build/remotedialer-bins.sh (built once per version, cached).

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { freePorts } from '../../env/net.ts';
import { createClusterPki, type ClusterPki } from '../../env/pki.ts';
import { ManagedProcess } from '../../env/process.ts';

const buildScript = fileURLToPath(new URL('../../env/build/remotedialer-bins.sh', import.meta.url));
export const remotedialerVersions = JSON.parse(
  await readFile(fileURLToPath(new URL('../../env/versions.json', import.meta.url)), 'utf8'),
) as { remotedialer: string[] };

/** Builds (first time) or finds the server and client of every pinned remotedialer version. */
export async function remotedialerBins(): Promise<Record<string, string>> {
  const { stdout } = await promisify(execFile)('bash', [buildScript], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as Record<string, string>;
}

export interface HttpResult {
  readonly status: number;
  readonly body: Buffer;
}

/** One HTTPS request verified against `ca`; the whole body is read. */
export function httpsCall(
  url: string,
  ca: string,
  opts: { method?: string; body?: Buffer; timeoutMs?: number; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: opts.method ?? 'GET',
        ca,
        headers: {
          ...(opts.body !== undefined ? { 'content-length': String(opts.body.length) } : {}),
          ...opts.headers,
        },
        timeout: opts.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${opts.method ?? 'GET'} ${url} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export interface GoTunnelServerOptions {
  readonly version: string;
  readonly token: string;
  /** The child cluster's admin kubeconfig: its client certificate is presented to proxied HTTPS targets. */
  readonly upstream?: KubeConfig;
  /** Where the tunnel endpoint listens (default 127.0.0.1). */
  readonly listenHost?: string;
  /** As the hub behind a parent's aggregator: trust tunnels proxied with a client cert of this CA file. */
  readonly requestHeaderCaFile?: string;
}

export class GoTunnelServer {
  readonly version: string;
  readonly token: string;
  readonly dir: string;
  readonly pki: ClusterPki;
  readonly port: number;
  readonly host: string;
  /** `host:port` of the plain HTTP origin (bytes/echo/small), to be reached through the tunnel. */
  readonly origin: string;
  readonly caPem: string;
  readonly process: ManagedProcess;
  readonly binDir: string;

  private constructor(
    o: GoTunnelServerOptions,
    dir: string,
    pki: ClusterPki,
    binDir: string,
    ports: number[],
    args: string[],
    caPem: string,
  ) {
    this.version = o.version;
    this.token = o.token;
    this.dir = dir;
    this.pki = pki;
    this.binDir = binDir;
    this.port = ports[0] ?? 0;
    this.host = o.listenHost ?? '127.0.0.1';
    this.origin = `127.0.0.1:${String(ports[1] ?? 0)}`;
    this.caPem = caPem;
    this.process = new ManagedProcess({
      name: `remotedialer-${o.version}`,
      command: join(binDir, 'server'),
      args,
      logFile: join(dir, 'server.log'),
      ready: async () => {
        try {
          return (await httpsCall(`${this.url}/sessions/-`, this.caPem, { timeoutMs: 1000 })).status === 404;
        } catch {
          return false;
        }
      },
      readyTimeoutMs: 15_000,
      stopGraceMs: 2000,
    });
  }

  /** The parent URL the agent is given (`--cluster-reg-parent-url`). */
  get url(): string {
    return `https://${this.host}:${String(this.port)}`;
  }

  static async start(o: GoTunnelServerOptions): Promise<GoTunnelServer> {
    const bins = await remotedialerBins();
    const binDir = bins[o.version];
    if (binDir === undefined) throw new Error(`remotedialer ${o.version} is not built (versions.json)`);
    const dir = await mkdtemp(join(tmpdir(), `rd-${o.version}-`));
    const pki = await createClusterPki(join(dir, 'pki'), {
      caName: 'tunnel-parent-ca',
      ...(o.listenHost === undefined ? {} : { extraIps: [o.listenHost] }),
    });
    const ports = await freePorts(2);
    const args = [
      `-listen=${o.listenHost ?? '127.0.0.1'}:${String(ports[0])}`,
      `-origin-listen=127.0.0.1:${String(ports[1])}`,
      `-cert=${pki.apiserverCert}`,
      `-key=${pki.apiserverKey}`,
      `-token=${o.token}`,
      ...(o.requestHeaderCaFile === undefined ? [] : [`-requestheader-ca=${o.requestHeaderCaFile}`]),
    ];
    if (o.upstream !== undefined) {
      const user = o.upstream.getCurrentUser();
      const cert = user?.certData ?? '';
      const key = user?.keyData ?? '';
      await mkdir(join(dir, 'upstream'), { recursive: true });
      await writeFile(join(dir, 'upstream', 'tls.crt'), Buffer.from(cert, 'base64'));
      await writeFile(join(dir, 'upstream', 'tls.key'), Buffer.from(key, 'base64'), { mode: 0o600 });
      args.push(
        `-upstream-cert=${join(dir, 'upstream', 'tls.crt')}`,
        `-upstream-key=${join(dir, 'upstream', 'tls.key')}`,
      );
    }
    const caPem = await readFile(pki.caCert, 'utf8');
    const server = new GoTunnelServer(o, dir, pki, binDir, ports, args, caPem);
    await server.process.start();
    return server;
  }

  /** `/proxy/<clusterID>/<scheme>/<host:port>/<path>`: through the agent's tunnel. */
  proxyUrl(clusterId: string, scheme: 'http' | 'https', hostPort: string, path: string): string {
    return `${this.url}/proxy/${clusterId}/${scheme}/${hostPort}/${path.replace(/^\//, '')}`;
  }

  call(url: string, opts: Parameters<typeof httpsCall>[2] = {}): Promise<HttpResult> {
    return httpsCall(url, this.caPem, opts);
  }

  async hasSession(clusterId: string): Promise<boolean> {
    return (await this.call(`${this.url}/sessions/${clusterId}`, { timeoutMs: 2000 })).status === 200;
  }

  /** The Go client as an agent with key `clusterId` (the reference for benchmarks). */
  startGoClient(clusterId: string): ManagedProcess {
    const p = new ManagedProcess({
      name: `remotedialer-client-${this.version}`,
      command: join(this.binDir, 'client'),
      args: [
        `-url=wss://${this.host}:${String(this.port)}/apis/proxies.clusternet.io/v1alpha1/sockets/${clusterId}`,
        `-token=${this.token}`,
        `-ca=${this.pki.caCert}`,
      ],
      logFile: join(this.dir, `client-${clusterId}.log`),
      ready: () => this.hasSession(clusterId).catch(() => false),
      readyTimeoutMs: 15_000,
      stopGraceMs: 2000,
    });
    return p;
  }

  async stop(): Promise<void> {
    await this.process.stop();
    if (process.env.KEEP_PEER_LOGS === undefined) await rm(this.dir, { recursive: true, force: true });
  }
}
