// The tunnel end of a Clusternet hub behind the real parent apiserver: the Go remotedialer test server
// registered as the aggregated API `v1alpha1.proxies.clusternet.io`, as the hub's chart registers
// itself. An agent then dials `wss://<parent>/apis/proxies.clusternet.io/v1alpha1/sockets/<id>` with
// its dedicated token exactly as against a real hub: the parent apiserver authenticates and authorizes
// it (the per-cluster ClusterRole's `sockets` rule) and proxies the upgrade to this server.
// Needs an advertise address (the test network namespace): the aggregator dials endpoint IPs, and
// loopback addresses are not valid endpoints.

import { ApiregistrationV1Api, CoreV1Api, DiscoveryV1Api } from '@kubernetes/client-node';
import { eventually } from '../../env/eventually.ts';
import { isAlreadyExists } from '../../env/fixtures.ts';
import type { TestEnv } from '../../env/test-env.ts';
import { GoTunnelServer } from './peer.ts';

export const hubNamespace = 'clusternet-system';
export const hubService = 'clusternet-hub';
const apiServiceName = 'v1alpha1.proxies.clusternet.io';

/** Why the hub cannot run here, or undefined when it can. */
export function hubUnavailableReason(env: TestEnv): string | undefined {
  return env.descriptor.clusters.parent.advertiseAddress === undefined
    ? 'no advertise address (not in the test network namespace): the aggregator cannot route to a loopback hub'
    : undefined;
}

export async function startTunnelHub(env: TestEnv, version: string): Promise<GoTunnelServer> {
  const parent = env.descriptor.clusters.parent;
  const address = parent.advertiseAddress;
  if (address === undefined) throw new Error(hubUnavailableReason(env));
  const server = await GoTunnelServer.start({
    version,
    token: 'unused-behind-the-aggregator',
    upstream: env.adminKubeConfig('child'),
    listenHost: address,
    requestHeaderCaFile: parent.frontProxyCaFile,
  });
  const core = env.adminClient('parent', CoreV1Api);
  const ignoreExists = (err: unknown) => {
    if (!isAlreadyExists(err)) throw err;
  };
  await core.createNamespace({ body: { metadata: { name: hubNamespace } } }).catch(ignoreExists);
  await core.deleteNamespacedService({ name: hubService, namespace: hubNamespace }).catch(() => undefined);
  await core.createNamespacedService({
    namespace: hubNamespace,
    body: {
      metadata: { name: hubService },
      spec: { ports: [{ name: 'https', port: 443, targetPort: server.port, protocol: 'TCP' }] },
    },
  });
  const slices = env.adminClient('parent', DiscoveryV1Api);
  const slice = {
    metadata: {
      name: `${hubService}-tunnel`,
      labels: {
        'kubernetes.io/service-name': hubService,
        'endpointslice.kubernetes.io/managed-by': 'clusternet-tests',
      },
    },
    addressType: 'IPv4',
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
    ports: [{ name: 'https', port: server.port, protocol: 'TCP' }],
  };
  await slices
    .deleteNamespacedEndpointSlice({ name: slice.metadata.name, namespace: hubNamespace })
    .catch(() => undefined);
  await slices.createNamespacedEndpointSlice({ namespace: hubNamespace, body: slice });
  const registration = env.adminClient('parent', ApiregistrationV1Api);
  await registration.deleteAPIService({ name: apiServiceName }).catch(() => undefined);
  await registration.createAPIService({
    body: {
      metadata: { name: apiServiceName },
      spec: {
        group: 'proxies.clusternet.io',
        version: 'v1alpha1',
        service: { namespace: hubNamespace, name: hubService, port: 443 },
        insecureSkipTLSVerify: true,
        groupPriorityMinimum: 1000,
        versionPriority: 100,
      },
    },
  });
  await eventually(
    `APIService ${apiServiceName} available`,
    async () => {
      const s = await registration.readAPIServiceStatus({ name: apiServiceName });
      const available = s.status?.conditions?.find((c) => c.type === 'Available');
      if (available?.status !== 'True') throw new Error(available?.message ?? 'not yet');
      return true;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  return server;
}
