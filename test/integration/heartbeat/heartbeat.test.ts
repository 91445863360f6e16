// The heartbeat against the real parent and child apiservers: the agent registers through the test
// approver, then its reports must show in the parent's ManagedCluster what the child apiserver says.
// Nodes are plain API objects here (no kubelets, and no node-lifecycle controller to touch them).

import { randomBytes } from 'node:crypto';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, VersionApi, type V1Node } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../env/eventually.ts';
import { kubeadmControllerManagerPod } from '../../env/fixtures.ts';
import { testEnv } from '../../env/vitest-env.ts';
import type { AgentProcess } from '../helpers/agent-process.ts';
import { registrationParent } from '../helpers/parent.ts';

const env = testEnv();
const parent = registrationParent(env);
const nodeNames: string[] = [];
const suffix = randomBytes(3).toString('hex');

interface ManagedCluster {
  metadata: { name: string; namespace: string; labels?: Record<string, string>; resourceVersion?: string };
  spec?: unknown;
  status?: {
    lastObservedTime?: string;
    k8sVersion?: string;
    platform?: string;
    agentVersion?: string;
    apiserverURL?: string;
    healthz?: boolean;
    livez?: boolean;
    readyz?: boolean;
    appPusher?: boolean;
    useSocket?: boolean;
    kubeQPS?: number;
    kubeBurst?: number;
    capacity?: Record<string, string>;
    allocatable?: Record<string, string>;
    nodeStatistics?: Record<string, number>;
    heartbeatFrequencySeconds?: number;
    predictorEnabled?: boolean;
    predictorAddress?: string;
    predictorDirectAccess?: boolean;
    clusterCIDR?: string;
    serviceCIDR?: string;
    conditions?: { type: string; status: string; reason: string; message: string; lastTransitionTime: string }[];
  };
}

const nodeApi = () => env.adminClient('child', CoreV1Api);
const parentObjects = () => env.adminClient('parent', CustomObjectsApi);

function node(name: string, ready: 'True' | 'False' | undefined, cpu: string, memory: string, labels = {}): V1Node {
  return {
    metadata: { name, labels },
    status: {
      capacity: { cpu, memory, pods: '110' },
      allocatable: { cpu, memory, pods: '110' },
      ...(ready === undefined
        ? {}
        : {
            conditions: [
              {
                type: 'Ready',
                status: ready,
                reason: ready === 'True' ? 'KubeletReady' : 'KubeletNotReady',
                lastHeartbeatTime: new Date(),
                lastTransitionTime: new Date(),
              },
            ],
          }),
    },
  };
}

async function createNode(n: V1Node): Promise<void> {
  await nodeApi().createNode({ body: n });
  nodeNames.push(n.metadata?.name ?? '');
}

async function setReady(name: string, status: 'True' | 'False'): Promise<void> {
  const current = await nodeApi().readNodeStatus({ name });
  for (const c of current.status?.conditions ?? []) {
    if (c.type !== 'Ready') continue;
    c.status = status;
    c.lastTransitionTime = new Date();
  }
  await nodeApi().replaceNodeStatus({ name, body: current });
}

beforeAll(async () => {
  // A control-plane pod as kubeadm runs it: the CIDRs are read from its command line.
  await nodeApi().createNamespacedPod({
    namespace: 'kube-system',
    body: kubeadmControllerManagerPod(`kube-controller-manager-${suffix}`),
  });
  await createNode(node(`hb-a-${suffix}`, 'True', '4', '8Gi', { 'node.clusternet.io/zone': 'a' }));
  await createNode(node(`hb-b-${suffix}`, 'True', '2', '4Gi', { 'node.clusternet.io/zone': 'a' }));
  await createNode(node(`hb-c-${suffix}`, 'False', '500m', '1Gi', { 'node.clusternet.io/zone': 'b' }));
});
afterAll(async () => {
  await Promise.all(
    nodeNames.map((name) =>
      nodeApi()
        .deleteNode({ name })
        .catch(() => undefined),
    ),
  );
  await nodeApi()
    .deleteNamespacedPod({ name: `kube-controller-manager-${suffix}`, namespace: 'kube-system' })
    .catch(() => undefined);
});
const systemNamespace = (): Promise<string> => parent.systemNamespace();

function agent(ns: string, ...extra: string[]): AgentProcess {
  return parent.agent([
    `--leader-elect-resource-namespace=${ns}`,
    '--cluster-status-collect-frequency=2s',
    '--secure-port=0',
    ...extra,
  ]);
}

/** The ManagedCluster of the agent's cluster, found the way the agent finds it. */
async function managedCluster(a: AgentProcess): Promise<ManagedCluster> {
  const registered = await a.waitForLine('registration', (l) => typeof l.clusterId === 'string');
  const list = (await parentObjects().listNamespacedCustomObject({
    group: 'clusters.clusternet.io',
    version: 'v1beta1',
    namespace: registered.dedicatedNamespace as string,
    plural: 'managedclusters',
    labelSelector: `clusters.clusternet.io/cluster-id=${registered.clusterId as string}`,
  })) as { items: ManagedCluster[] };
  const mc = list.items[0];
  if (mc === undefined) throw new Error('no ManagedCluster');
  return mc;
}

const reported = (a: AgentProcess, what: string, pred: (mc: ManagedCluster) => boolean, timeoutMs = 30_000) =>
  eventually(
    what,
    async () => {
      const mc = await managedCluster(a);
      return pred(mc) ? mc : undefined;
    },
    { timeoutMs, intervalMs: 250 },
  );

const readyCondition = (mc: ManagedCluster) => mc.status?.conditions?.find((c) => c.type === 'Ready');

describe('heartbeat', () => {
  it('reports as soon as registered, with the figures the child apiserver gives', async () => {
    const ns = await systemNamespace();
    const a = agent(
      ns,
      '--cluster-status-update-frequency=3m',
      '--feature-gates=AppPusher=false',
      '--labels-aggregate-threshold=0.5',
    );
    await a.waitForState('registered');
    const registeredAt = performance.now();
    const mc = await reported(a, 'a first report', (m) => m.status?.lastObservedTime !== undefined, 15_000);
    const latency = performance.now() - registeredAt;
    // The Go agent's first report can be a whole period (3 min) late; ours follows the first collection.
    expect(latency).toBeLessThan(10_000);

    const version = await env.adminClient('child', VersionApi).getCode();
    const s = mc.status ?? {};
    expect(s.k8sVersion).toBe(version.gitVersion);
    expect(s.platform).toBe(version.platform);
    expect(s.apiserverURL).toBe(env.server('child'));
    expect(s.agentVersion).toMatch(/^v\d+\.\d+\.\d+/);
    expect([s.healthz, s.livez, s.readyz]).toEqual([true, true, true]);
    expect(s.appPusher).toBe(false); // always a boolean, even when false
    expect(s.useSocket).toBeUndefined();
    expect(s.kubeQPS).toBe(50);
    expect(s.kubeBurst).toBe(100);
    expect(s.heartbeatFrequencySeconds).toBe(180);
    expect(s.predictorDirectAccess).toBe(false);
    expect(s.predictorEnabled).toBeUndefined();
    expect(s.predictorAddress).toBeUndefined();
    expect(s.clusterCIDR).toBe('10.244.0.0/16');
    expect(s.serviceCIDR).toBe('10.96.0.0/12');

    // Node figures, computed here from the child's own list.
    const nodes = (await nodeApi().listNode()).items;
    const ready = (n: V1Node) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status;
    expect(s.nodeStatistics).toEqual({
      readyNodes: nodes.filter((n) => ready(n) === 'True').length,
      notReadyNodes: nodes.filter((n) => ready(n) === 'False').length,
    });
    expect(nodes.length).toBe(3);
    expect(s.capacity).toEqual({ cpu: '6500m', memory: '13Gi' });
    expect(s.allocatable).toEqual({ cpu: '6500m', memory: '13Gi' });

    const cond = readyCondition(mc);
    expect(cond).toMatchObject({
      status: 'True',
      reason: 'ManagedClusterReady',
      message: 'managed cluster is ready.',
    });
    // Label aggregation: two of the three worker nodes are in zone a (threshold 0.5 by default).
    expect(mc.metadata.labels?.['node.clusternet.io/zone']).toBe('a');
  });

  it('publishes an external predictor as the Go agent does', async () => {
    const ns = await systemNamespace();
    const a = agent(
      ns,
      '--feature-gates=Predictor=true',
      '--predictor-addr=http://predictor.example:9000',
      '--predictor-direct-access',
    );
    const mc = await reported(a, 'a report', (m) => m.status?.lastObservedTime !== undefined);
    expect(mc.status).toMatchObject({
      predictorEnabled: true,
      predictorAddress: 'http://predictor.example:9000',
      predictorDirectAccess: true,
    });
  });

  it('reports node changes promptly, not at the next period, and keeps the hub conditions', async () => {
    const ns = await systemNamespace();
    const a = agent(ns, '--cluster-status-update-frequency=3m', '--labels-aggregate-threshold=0.6');
    const first = await reported(a, 'a first report', (m) => m.status?.nodeStatistics?.readyNodes === 2);
    expect(first.metadata.labels?.['node.clusternet.io/zone']).toBe('a'); // 2 of 3 worker nodes

    // The hub owns other conditions; the agent must keep them.
    const mc = await managedCluster(a);
    const hubCondition = {
      type: 'ClusterInit',
      status: 'True',
      reason: 'ClusterInitDisabled',
      message: 'set by the hub',
      lastTransitionTime: '2026-01-01T00:00:00Z',
    };
    await parentObjects().replaceNamespacedCustomObjectStatus({
      group: 'clusters.clusternet.io',
      version: 'v1beta1',
      namespace: mc.metadata.namespace,
      plural: 'managedclusters',
      name: mc.metadata.name,
      body: { ...mc, status: { ...mc.status, conditions: [...(mc.status?.conditions ?? []), hubCondition] } },
    });

    const changedAt = performance.now();
    await setReady(`hb-a-${suffix}`, 'False');
    await createNode(node(`hb-d-${suffix}`, undefined, '1', '1Gi'));
    const after = await reported(
      a,
      'the node change',
      (m) => m.status?.nodeStatistics?.notReadyNodes === 2 && m.status.nodeStatistics.lostNodes === 1,
    );
    expect(performance.now() - changedAt).toBeLessThan(20_000);
    expect(after.status?.nodeStatistics).toEqual({ readyNodes: 1, notReadyNodes: 2, lostNodes: 1 });
    expect(after.status?.capacity).toEqual({ cpu: '7500m', memory: '14Gi' });
    expect(after.status?.conditions?.find((c) => c.type === 'ClusterInit')).toEqual(hubCondition);
    // Zone a is now on 2 of 4 worker nodes, below the threshold: the label is removed.
    expect(after.metadata.labels).not.toHaveProperty(['node.clusternet.io/zone']);
    await setReady(`hb-a-${suffix}`, 'True');
  });

  it('reports the child apiserver down as not ready, and ready again when it is back', async () => {
    const ns = await systemNamespace();
    // The Lease lives in the child: with leader election a leader whose apiserver is down steps down
    // at its renew deadline (as the Go agent does), which would race the report under test.
    // Without election the Lease (the cluster identity) must already exist, as an earlier run leaves it.
    await env
      .adminClient('child', CoordinationV1Api)
      .createNamespacedLease({ namespace: ns, body: { metadata: { name: 'clusternet-agent' }, spec: {} } });
    const a = agent(ns, '--cluster-status-update-frequency=3m', '--leader-elect=false');
    const first = await reported(a, 'a first report', (m) => m.status?.readyz === true);
    const readySince = readyCondition(first)?.lastTransitionTime;

    await env.component('child', 'kube-apiserver').stop();
    try {
      const down = await reported(a, 'the child reported down', (m) => m.status?.readyz === false, 40_000);
      expect([down.status?.healthz, down.status?.livez, down.status?.readyz]).toEqual([false, false, false]);
      expect(readyCondition(down)).toMatchObject({ status: 'False', reason: 'ManagedClusterNotReady' });
    } finally {
      await env.component('child', 'kube-apiserver').start();
    }
    const back = await reported(a, 'the child reported back', (m) => readyCondition(m)?.status === 'True', 40_000);
    expect(back.status?.readyz).toBe(true);
    expect(readyCondition(back)?.lastTransitionTime).not.toBe(readySince);
  });

  it('keeps collecting while the parent is down and reports again once it is back', async () => {
    const ns = await systemNamespace();
    const a = agent(ns, '--cluster-status-update-frequency=3m');
    await reported(a, 'a first report', (m) => m.status?.lastObservedTime !== undefined);

    await env.component('parent', 'kube-apiserver').stop();
    // A node change while the parent is away: it must arrive once the parent is back.
    await setReady(`hb-b-${suffix}`, 'False');
    await new Promise((r) => setTimeout(r, 3000));
    await env.component('parent', 'kube-apiserver').start();
    const backAt = performance.now();
    const mc = await reported(
      a,
      'the report after the parent came back',
      (m) => m.status?.nodeStatistics?.readyNodes === 1,
      60_000,
    );
    expect(mc.status?.nodeStatistics?.notReadyNodes).toBe(2);
    // Retries are capped at 30 s (jittered): well inside the 3 min period.
    expect(performance.now() - backAt).toBeLessThan(35_000);
    expect(a.states().at(-1)).not.toBe('credentialsRevoked');
    await setReady(`hb-b-${suffix}`, 'True');
  });
});
