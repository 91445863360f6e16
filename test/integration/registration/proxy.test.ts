// HTTPS_PROXY / NO_PROXY for the agent's API calls to the parent, as client-go honours them (spec §1.3):
// the real agent registers and reports its heartbeat through a CONNECT proxy, TLS verified end to end
// against the parent's CA, and goes direct when NO_PROXY covers the parent. client-go never proxies
// loopback addresses, so the parent is reached at the test network namespace's own address (a SAN of
// the apiserver's certificate), where a plain TCP forwarder passes direct connections on.

import { connect as netConnect, createServer as createTcpServer, type Socket } from 'node:net';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyFromEnvironment, withProxy } from '../../../src/kube/proxy.ts';
import { rawRequest } from '../../../src/kube/raw-request.ts';
import { eventually } from '../../env/eventually.ts';
import { testEnv } from '../../env/vitest-env.ts';
import type { AgentProcess } from '../helpers/agent-process.ts';
import { startConnectProxy, type ConnectProxy } from '../helpers/connect-proxy.ts';
import { registrationParent } from '../helpers/parent.ts';

const env = testEnv();
const parent = registrationParent(env);
/** The network namespace's address on `lo` (test/env/netns.ts); unset on the host's loopback. */
const address = process.env.CNAT_ADVERTISE_ADDRESS;
if (address === undefined) {
  process.stderr.write(
    'proxy.test.ts: skipped: no network namespace address (CNAT_ADVERTISE_ADDRESS), and loopback is never proxied\n',
  );
}

const sockets = new Set<Socket>();
const track = (s: Socket): Socket => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
  return s;
};

describe.skipIf(address === undefined)('API calls to the parent through HTTPS_PROXY', () => {
  const parentPort = Number(new URL(env.server('parent')).port);
  const parentUrl = `https://${address ?? ''}:${String(parentPort)}`;
  /** Connections that reached the parent at `address` without the proxy. */
  let directConnections = 0;
  const forwarder = createTcpServer((client) => {
    track(client);
    directConnections++;
    const upstream = track(netConnect(parentPort, '127.0.0.1'));
    client.pipe(upstream);
    upstream.pipe(client);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  let proxy: ConnectProxy;
  let proxyUrl = '';
  let connects: readonly string[] = [];

  beforeAll(async () => {
    // Only the parent is served; through to its loopback listener, not the direct forwarder below.
    proxy = await startConnectProxy((_host, port) => ({ host: '127.0.0.1', port }));
    proxyUrl = proxy.url;
    connects = proxy.connects;
    // The same port as the parent's, on the namespace's address: the parent URL works direct too.
    await new Promise<void>((resolve, reject) => {
      forwarder.once('error', reject);
      forwarder.listen(parentPort, address, resolve);
    });
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all([proxy.close(), new Promise((r) => forwarder.close(r))]);
  });

  /** Registers an agent at `parentUrl` with `extraEnv`; resolves once the parent has its first report. */
  async function registerAndReport(extraEnv: NodeJS.ProcessEnv): Promise<AgentProcess> {
    const ns = await parent.systemNamespace('prx');
    const processEnv: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy']) {
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- a copy of the environment, cleaned
      delete processEnv[k];
    }
    const a = parent.agent(
      [
        `--cluster-reg-parent-url=${parentUrl}`,
        `--leader-elect-resource-namespace=${ns}`,
        '--cluster-status-collect-frequency=2s',
        '--secure-port=0',
        '--feature-gates=SocketConnection=false',
      ],
      { ...processEnv, ...extraEnv },
    );
    await a.waitForState('registered');
    const registered = await a.waitForLine('registration', (l) => typeof l.clusterId === 'string');
    await eventually(
      'a first heartbeat in the parent',
      async () => {
        const list = (await env.adminClient('parent', CustomObjectsApi).listNamespacedCustomObject({
          group: 'clusters.clusternet.io',
          version: 'v1beta1',
          namespace: registered.dedicatedNamespace as string,
          plural: 'managedclusters',
          labelSelector: `clusters.clusternet.io/cluster-id=${registered.clusterId as string}`,
        })) as { items: { status?: { lastObservedTime?: string } }[] };
        return list.items[0]?.status?.lastObservedTime;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    return a;
  }

  // `registered` needs the dedicated client verified against the approved CA: TLS ends at the parent.
  it('registers and reports through the proxy (CONNECT to the parent only), TLS verified', async () => {
    const a = await registerAndReport({ HTTPS_PROXY: proxyUrl });
    expect(connects.length).toBeGreaterThan(0);
    // Only the parent: the child is on loopback, which client-go never proxies.
    expect(new Set(connects)).toEqual(new Set([`${address ?? ''}:${String(parentPort)}`]));
    expect(directConnections).toBe(0);
    expect(a.lines.find((l) => l.msg === 'API calls to the parent go through a proxy')?.proxy).toBe(proxyUrl);
  });

  it('rawRequest (deployer writes, Events, list pages) keeps its connections alive through the proxy', async () => {
    const admin = env.adminKubeConfig('parent');
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: admin.clusters.map((c) => ({ ...c, server: parentUrl })),
      users: admin.users,
      contexts: admin.contexts,
      currentContext: admin.currentContext,
    });
    withProxy(kc, proxyFromEnvironment({ HTTPS_PROXY: proxyUrl }));
    const before = connects.length;
    for (let i = 0; i < 5; i++) {
      // Client certificate and CA verification both cross the tunnel.
      expect((await rawRequest(kc, { method: 'GET', path: '/api/v1/namespaces/default' })).status).toBe(200);
    }
    expect(connects.slice(before)).toEqual([`${address ?? ''}:${String(parentPort)}`]);
    expect(directConnections).toBe(0);
  });

  it('goes direct when NO_PROXY covers the parent (a CIDR, as for a service network)', async () => {
    const before = connects.length;
    directConnections = 0;
    const a = await registerAndReport({ HTTPS_PROXY: proxyUrl, NO_PROXY: `${address ?? ''}/16` });
    expect(connects.length).toBe(before);
    expect(directConnections).toBeGreaterThan(0);
    expect(a.lines.some((l) => l.msg === 'API calls to the parent go through a proxy')).toBe(false);
  });
});
