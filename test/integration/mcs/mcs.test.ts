// Multi-cluster services against the real clusters: the syncer (real src/ actors, the chart's minimal
// RBAC in the child, the dedicated credentials in the parent) mirrors the EndpointSlices of exported
// Services into the dedicated namespace; Services without selectors and hand-made slices (managed-by a
// test name, so the child's EndpointSlice controllers leave them alone).

import { randomBytes } from 'node:crypto';
import { CoreV1Api, CustomObjectsApi, DiscoveryV1Api, type V1EndpointSlice } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derivedServiceName, finalizer } from '../../../machines/mcs/decisions.ts';
import { bootstrapGroup, prepareParent, TestApprover } from '../../approver/approver.ts';
import { eventually } from '../../env/eventually.ts';
import { testEnv } from '../../env/vitest-env.ts';
import { absent } from '../helpers/deployer-harness.ts';
import { chartIdentity, installChartCrds, renderChartWithMcs, startSyncer, type RunningSyncer } from './harness.ts';

const env = testEnv();
const ns = `mcs-${randomBytes(3).toString('hex')}`;
let approver: TestApprover;
let syncer: RunningSyncer;
const dedicated = (): string => syncer.cluster.dedicatedNamespace;

const childCore = () => env.adminClient('child', CoreV1Api);
const childDiscovery = () => env.adminClient('child', DiscoveryV1Api);
const parentDiscovery = () => env.adminClient('parent', DiscoveryV1Api);
const childObjects = () => env.adminClient('child', CustomObjectsApi);
const seApi = { group: 'multicluster.x-k8s.io', version: 'v1alpha1', plural: 'serviceexports' } as const;

interface ServiceExportObject {
  metadata: { name: string; finalizers?: string[]; deletionTimestamp?: string };
}

async function createService(name: string): Promise<void> {
  await childCore().createNamespacedService({
    namespace: ns,
    body: { metadata: { name }, spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } },
  });
}

const sliceBody = (name: string, service: string, ips: readonly string[], port = 8080): V1EndpointSlice => ({
  metadata: {
    name,
    labels: {
      'kubernetes.io/service-name': service,
      'endpointslice.kubernetes.io/managed-by': 'mcs-test.clusternet.io',
    },
  },
  addressType: 'IPv4',
  endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  ports: [{ name: 'http', port, protocol: 'TCP' }],
});

const createSlice = (name: string, service: string, ips: readonly string[]) =>
  childDiscovery().createNamespacedEndpointSlice({ namespace: ns, body: sliceBody(name, service, ips) });

async function setEndpoints(name: string, ips: readonly string[], port?: number): Promise<void> {
  const current = await childDiscovery().readNamespacedEndpointSlice({ name, namespace: ns });
  const next = sliceBody(name, current.metadata?.labels?.['kubernetes.io/service-name'] ?? '', ips, port);
  await childDiscovery().replaceNamespacedEndpointSlice({
    name,
    namespace: ns,
    body: {
      metadata: { name, resourceVersion: current.metadata?.resourceVersion ?? '', labels: next.metadata?.labels ?? {} },
      addressType: 'IPv4',
      endpoints: next.endpoints ?? [],
      ...(next.ports === undefined ? {} : { ports: next.ports }),
    },
  });
}

const exportService = (name: string) =>
  childObjects().createNamespacedCustomObject({
    ...seApi,
    namespace: ns,
    body: { apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceExport', metadata: { name } },
  });
const readExport = async (name: string): Promise<ServiceExportObject> =>
  (await childObjects().getNamespacedCustomObject({ ...seApi, namespace: ns, name })) as ServiceExportObject;
const unexport = (name: string) => childObjects().deleteNamespacedCustomObject({ ...seApi, namespace: ns, name });

/** The parent slices of Service `service`, by the derived-name label: name → sorted addresses. */
async function parentSlices(service: string): Promise<Record<string, string[]>> {
  const list = await parentDiscovery().listNamespacedEndpointSlice({
    namespace: dedicated(),
    labelSelector: `kubernetes.io/service-name=${derivedServiceName(ns, service)}`,
  });
  return Object.fromEntries(
    list.items.map((s) => [s.metadata?.name ?? '', (s.endpoints ?? []).flatMap((e) => e.addresses).sort()]),
  );
}

/** Waits until the parent holds exactly `expected` for `service`. */
const parentHolds = (service: string, expected: Record<string, string[]>, timeoutMs = 30_000) =>
  eventually(
    `parent slices of ${service} = ${JSON.stringify(expected)} (log ${syncer.logPath})`,
    async () => {
      const got = await parentSlices(service);
      return JSON.stringify(got) === JSON.stringify(expected) ? got : undefined;
    },
    { timeoutMs, intervalMs: 50 },
  );

beforeAll(async () => {
  await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
  await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
  approver = new TestApprover(env.adminKubeConfig('parent'), { pollMs: 50 });
  approver.start();
  const chart = await renderChartWithMcs();
  expect(await installChartCrds(env, chart)).toEqual([
    'serviceexports.multicluster.x-k8s.io',
    'serviceimports.multicluster.x-k8s.io',
  ]);
  await childCore().createNamespace({ body: { metadata: { name: ns } } });
  // The chart's minimal RBAC (rbac.broad=false) with the gate on: the syncer's only child identity.
  syncer = await startSyncer(env, ns, await chartIdentity(env, chart));
}, 180_000);

afterAll(async () => {
  syncer.actor.stop();
  await approver.stop();
  await childCore()
    .deleteNamespace({ name: ns })
    .catch(() => undefined);
});

describe('multi-cluster services (spec §7.7)', () => {
  it('export → the slices appear in the dedicated namespace with the Go names and labels, and the finalizer', async () => {
    await createService('web');
    await createSlice('web-a', 'web', ['10.1.0.1', '10.1.0.2']);
    await createSlice('web-b', 'web', ['10.1.0.3']);
    await createService('private'); // not exported: never copied
    await createSlice('private-a', 'private', ['10.9.0.1']);
    await exportService('web');

    await parentHolds('web', { [`${ns}-web-a`]: ['10.1.0.1', '10.1.0.2'], [`${ns}-web-b`]: ['10.1.0.3'] });
    const copy = await parentDiscovery().readNamespacedEndpointSlice({ name: `${ns}-web-a`, namespace: dedicated() });
    expect(copy.metadata?.labels).toEqual({
      'services.clusternet.io/multi-cluster-service-name': 'web',
      'services.clusternet.io/multi-cluster-service-namespace': ns,
      'clusternet.io/created-by': 'clusternet-agent',
      'kubernetes.io/service-name': derivedServiceName(ns, 'web'),
    });
    expect(copy.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
    expect(copy.addressType).toBe('IPv4');
    expect((await readExport('web')).metadata.finalizers).toEqual([finalizer]);
    expect(await parentSlices('private')).toEqual({});
  });

  it('endpoints change → the parent copies follow within 2 s; a new slice is added, a deleted one removed', async () => {
    await parentHolds('web', { [`${ns}-web-a`]: ['10.1.0.1', '10.1.0.2'], [`${ns}-web-b`]: ['10.1.0.3'] });
    await setEndpoints('web-a', ['10.1.0.7']);
    await parentHolds('web', { [`${ns}-web-a`]: ['10.1.0.7'], [`${ns}-web-b`]: ['10.1.0.3'] }, 2_000);

    await setEndpoints('web-b', ['10.1.0.3'], 9090);
    await eventually(
      'the new port in the parent',
      async () => {
        const s = await parentDiscovery().readNamespacedEndpointSlice({ name: `${ns}-web-b`, namespace: dedicated() });
        return s.ports?.[0]?.port === 9090 ? true : undefined;
      },
      { timeoutMs: 2_000, intervalMs: 50 },
    );

    await createSlice('web-c', 'web', ['10.1.0.8']);
    await childDiscovery().deleteNamespacedEndpointSlice({ name: 'web-a', namespace: ns });
    await parentHolds('web', { [`${ns}-web-b`]: ['10.1.0.3'], [`${ns}-web-c`]: ['10.1.0.8'] }, 2_000);
  });

  it('a parent outage in between loses nothing: changes, new exports and an unexport all land when it is back', async () => {
    await createService('api');
    await createSlice('api-a', 'api', ['10.2.0.1']);
    await createService('old');
    await createSlice('old-a', 'old', ['10.3.0.1']);
    await exportService('api');
    await exportService('old');
    await parentHolds('api', { [`${ns}-api-a`]: ['10.2.0.1'] });
    await parentHolds('old', { [`${ns}-old-a`]: ['10.3.0.1'] });
    await eventually('the finalizer on old', async () =>
      (await readExport('old')).metadata.finalizers?.includes(finalizer) === true ? true : undefined,
    );

    const apiserver = env.component('parent', 'kube-apiserver');
    await apiserver.stop();
    try {
      await setEndpoints('web-b', ['10.1.0.30', '10.1.0.31']);
      await createSlice('api-b', 'api', ['10.2.0.2']);
      await createService('late');
      await createSlice('late-a', 'late', ['10.4.0.1']);
      await exportService('late');
      await unexport('old');
      // The unexported ServiceExport waits for its parent slices to go: its finalizer holds it.
      await eventually('old being deleted, held by the finalizer', async () => {
        const se = await readExport('old');
        return se.metadata.deletionTimestamp !== undefined && se.metadata.finalizers?.includes(finalizer) === true
          ? true
          : undefined;
      });
      // Long enough for several failed reconciles and their backoff.
      await new Promise((r) => setTimeout(r, 5_000));
      expect(syncer.actor.getSnapshot().context.failures).not.toEqual({});
    } finally {
      await apiserver.start();
    }
    await parentHolds('web', { [`${ns}-web-b`]: ['10.1.0.30', '10.1.0.31'], [`${ns}-web-c`]: ['10.1.0.8'] });
    await parentHolds('api', { [`${ns}-api-a`]: ['10.2.0.1'], [`${ns}-api-b`]: ['10.2.0.2'] });
    await parentHolds('late', { [`${ns}-late-a`]: ['10.4.0.1'] });
    await parentHolds('old', {});
    await eventually('old to be gone from the child', () => absent(() => readExport('old')));
  });

  it('unexport → the parent slices are deleted and the finalizer removed (the ServiceExport goes)', async () => {
    await parentHolds('api', { [`${ns}-api-a`]: ['10.2.0.1'], [`${ns}-api-b`]: ['10.2.0.2'] });
    await unexport('api');
    await parentHolds('api', {});
    await eventually('api to be gone from the child', () => absent(() => readExport('api')));
    // The Service and its slices in the child are untouched; the other exports keep their copies.
    expect(
      (
        await childDiscovery().listNamespacedEndpointSlice({
          namespace: ns,
          labelSelector: 'kubernetes.io/service-name=api',
        })
      ).items,
    ).toHaveLength(2);
    expect(Object.keys(await parentSlices('web')).sort()).toEqual([`${ns}-web-b`, `${ns}-web-c`]);
  });

  it('leadership ends (the syncer stops): nothing more is written to the parent', async () => {
    syncer.actor.stop();
    await setEndpoints('web-c', ['10.1.0.99']);
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await parentSlices('web'))[`${ns}-web-c`]).toEqual(['10.1.0.8']);
  });
});
