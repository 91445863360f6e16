// The built-in predictor against the real child cluster: Nodes and Pods are API objects the test
// creates (no kubelets: pods are bound with spec.nodeName and their phase set through /status), the
// predictor lists and watches them as the agent does, and answers over HTTP. Then the whole agent,
// registered with the real parent, serves it to the hub through its tunnel: the Go remotedialer
// server behind the parent apiserver calls `…/proxy/http/localhost:<port>/replicas/predict` as
// clusternet-scheduler does.

import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, CustomObjectsApi, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { createActor } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapGroup, prepareParent, TestApprover } from '../../approver/approver.ts';
import { eventually } from '../../env/eventually.ts';
import { freePorts } from '../../env/net.ts';
import { testEnv } from '../../env/vitest-env.ts';
import { hubUnavailableReason, startTunnelHub } from '../../peers/remotedialer/hub.ts';
import type { GoTunnelServer } from '../../peers/remotedialer/peer.ts';
import { AgentProcess } from '../helpers/agent-process.ts';
import { createPredictorMachine } from '../../../src/predictor/actors.ts';

const env = testEnv();
const core = env.adminClient('child', CoreV1Api);
const run = randomBytes(3).toString('hex');
const ns = `pred-${run}`;
/** Every node of this file carries this label; requests select it, so other tests' nodes do not count. */
const mark = { 'predictor-test': run };
const nodeNames: string[] = [];

function node(
  name: string,
  allocatable: Record<string, string>,
  labels: Record<string, string> = {},
  taints: { key: string; value?: string; effect: string }[] = [],
): V1Node {
  return {
    metadata: { name, labels: { ...mark, ...labels } },
    spec: { taints },
    status: {
      capacity: allocatable,
      allocatable,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          lastHeartbeatTime: new Date(),
          lastTransitionTime: new Date(),
        },
      ],
    },
  };
}

async function createNode(n: V1Node): Promise<void> {
  await core.createNode({ body: n });
  nodeNames.push(n.metadata?.name ?? '');
}

async function createPod(
  name: string,
  nodeName: string | undefined,
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown',
  requests: Record<string, string>,
  more: { init?: Record<string, string>; finalizer?: boolean } = {},
): Promise<void> {
  const body: V1Pod = {
    metadata: { name, ...(more.finalizer === true ? { finalizers: ['example.com/hold'] } : {}) },
    spec: {
      ...(nodeName === undefined ? {} : { nodeName }),
      automountServiceAccountToken: false,
      containers: [
        {
          name: 'app',
          image: 'registry.example/app:v1',
          // Extended resources cannot be overcommitted: their limit must equal the request.
          resources: {
            requests,
            limits: Object.fromEntries(Object.entries(requests).filter(([k]) => k.includes('/'))),
          },
        },
      ],
      ...(more.init === undefined
        ? {}
        : {
            initContainers: [{ name: 'init', image: 'registry.example/init:v1', resources: { requests: more.init } }],
          }),
    },
  };
  await core.createNamespacedPod({ namespace: ns, body });
  if (phase !== 'Pending') await setPhase(name, phase);
}

async function setPhase(name: string, phase: string): Promise<void> {
  const current = await core.readNamespacedPodStatus({ name, namespace: ns });
  current.status ??= {};
  current.status.phase = phase;
  await core.replaceNamespacedPodStatus({ name, namespace: ns, body: current });
}

interface Answer {
  status: number;
  body: string;
}

function post(port: number, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/replicas/predict',
        headers: { 'Content-Type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: text });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * A request body selecting this file's nodes (plus `selector`). The apiserver's TaintNodesByCondition
 * admission taints every new Node `node.kubernetes.io/not-ready:NoSchedule` (no kubelet clears it), so
 * every request tolerates that taint, as pods scheduled to such nodes must.
 */
const notReady = { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoSchedule' };
const ask = (
  requests: Record<string, string> = {},
  selector: Record<string, string> = {},
  extra: { tolerations?: object[] } = {},
): string =>
  JSON.stringify({
    nodeSelector: { ...mark, ...selector },
    resources: { requests },
    tolerations: [notReady, ...(extra.tolerations ?? [])],
  });

const replicas = (a: Answer): number | string =>
  a.status === 200
    ? (JSON.parse(a.body) as { replicas: { default: number } }).replicas.default
    : `${String(a.status)} ${a.body}`;

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: ns } } });
  await eventually('the default ServiceAccount', () =>
    core.readNamespacedServiceAccount({ name: 'default', namespace: ns }),
  );
  // Worked example A (spec predictor §5), and example G's node, C's GPU node and a tainted node.
  await createNode(
    node(`pa-${run}`, { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '100Gi' }, { zone: 'a' }),
  );
  await createNode(
    node(`pb-${run}`, { cpu: '2', memory: '4Gi', pods: '3', 'ephemeral-storage': '100Gi' }, { zone: 'b' }),
  );
  await createNode(node(`pg-${run}`, { cpu: '4', memory: '8Gi', pods: '110' }, { zone: 'g' }));
  await createNode(
    node(`pgpu-${run}`, { cpu: '16', memory: '64Gi', pods: '110', 'nvidia.com/gpu': '4' }, { zone: 'gpu' }),
  );
  await createNode(
    node(`pt-${run}`, { cpu: '8', memory: '16Gi', pods: '110' }, { zone: 't' }, [
      { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
    ]),
  );
  await createPod('a1', `pa-${run}`, 'Running', { cpu: '1500m', memory: '2Gi' });
  await createPod('a2', `pa-${run}`, 'Succeeded', { cpu: '2', memory: '4Gi' });
  await createPod('a3', `pa-${run}`, 'Pending', { cpu: '500m', memory: '512Mi' });
  await createPod('b1', `pb-${run}`, 'Running', { cpu: '250m', memory: '1Gi' });
  await createPod('b2', `pb-${run}`, 'Failed', { cpu: '1', memory: '1Gi' });
  await createPod('u1', undefined, 'Pending', { cpu: '1', memory: '1Gi' });
  await createPod('g1', `pg-${run}`, 'Running', { cpu: '1500m', memory: '2Gi' });
  await createPod(
    'g3',
    `pg-${run}`,
    'Pending',
    { cpu: '500m', memory: '512Mi' },
    { init: { cpu: '1', memory: '256Mi' } },
  );
  await createPod('gp', `pgpu-${run}`, 'Running', { cpu: '1', memory: '1Gi', 'nvidia.com/gpu': '1' });
}, 60_000);

afterAll(async () => {
  await Promise.all(nodeNames.map((name) => core.deleteNode({ name }).catch(() => undefined)));
  await core.deleteNamespace({ name: ns }).catch(() => undefined);
});

describe('the predictor against the real child cluster', () => {
  let port = 0;
  let stop: () => void = () => undefined;

  beforeAll(async () => {
    let listening: (a: AddressInfo) => void = () => undefined;
    const address = new Promise<AddressInfo>((r) => (listening = r));
    const machine = createPredictorMachine({
      child: env.adminKubeConfig('child'),
      log: pino({ level: 'silent' }),
      host: '127.0.0.1',
      port: 0,
      onListening: listening,
    });
    const actor = createActor(machine, { input: { serve: true } });
    actor.start();
    stop = () => {
      actor.stop();
    };
    port = (await address).port;
  }, 60_000);
  afterAll(() => {
    stop();
  });

  const answer = async (body: string) => replicas(await post(port, body));
  const settles = async (body: string, want: number | string, what: string): Promise<void> => {
    let last: number | string = 'no answer';
    await eventually(
      what,
      async () => {
        last = await answer(body);
        return last === want ? true : undefined;
      },
      { timeoutMs: 10_000 },
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; last answer ${JSON.stringify(last)}`);
    });
  };

  it('answers the worked examples from the cluster’s own nodes and pods', async () => {
    await settles(ask({ cpu: '500m', memory: '1Gi' }, { zone: 'a' }), 4, 'node-a takes 4');
    expect(await answer(ask({ cpu: '500m', memory: '1Gi' }, { zone: 'b' }))).toBe(2);
    expect(await answer(ask({}, { zone: 'b' }))).toBe(2);
    expect(await answer(ask({ memory: '3Gi' }, { zone: 'a' }))).toBe(1);
    // Example G, per pod (Go: 3 or 4 by cache order).
    expect(await answer(ask({ cpu: '500m', memory: '1Gi' }, { zone: 'g' }))).toBe(3);
    // Example C: GPUs.
    expect(await answer(ask({ cpu: '2', memory: '8Gi', 'nvidia.com/gpu': '1' }, { zone: 'gpu' }))).toBe(3);
    expect(await answer(ask({ 'nvidia.com/gpu': '1' }))).toBe(3); // no other node has GPUs
    // Taints: only with the toleration.
    expect(await answer(ask({ cpu: '1' }, { zone: 't' }))).toBe('500 no feasible nodes found\n');
    const tolerated = ask(
      { cpu: '1' },
      { zone: 't' },
      {
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }],
      },
    );
    expect(await answer(tolerated)).toBe(8);
    expect(await answer(ask({}, { zone: 'nowhere' }))).toBe('500 no feasible nodes found\n');
    expect((await post(port, '')).status).toBe(400);
  });

  it('follows pods as they finish, are deleted, or terminate', async () => {
    const onA = ask({ cpu: '500m', memory: '1Gi' }, { zone: 'a' });
    await settles(onA, 4, 'node-a takes 4');
    await setPhase('a3', 'Succeeded'); // a: 2500m / 6Gi free → min(5, 6)
    await settles(onA, 5, 'a finished pod gives its requests back');
    await core.deleteNamespacedPod({ name: 'a1', namespace: ns, gracePeriodSeconds: 0 });
    await settles(onA, 8, 'a deleted pod gives its requests back');
    // A terminating pod (held by a finalizer) still counts, as in Go; once gone it does not.
    await createPod('held', `pa-${run}`, 'Running', { cpu: '2' }, { finalizer: true });
    await settles(onA, 4, 'a new pod takes its requests');
    await core.deleteNamespacedPod({ name: 'held', namespace: ns, gracePeriodSeconds: 0 });
    await eventually('the pod is terminating', async () => {
      const p = await core.readNamespacedPod({ name: 'held', namespace: ns });
      return p.metadata?.deletionTimestamp === undefined ? undefined : true;
    });
    expect(await answer(onA)).toBe(4);
    await core.patchNamespacedPod({
      name: 'held',
      namespace: ns,
      body: [{ op: 'remove', path: '/metadata/finalizers' }],
    });
    await settles(onA, 8, 'the pod, gone, gives its requests back');
    // A node that goes away no longer counts; a new one does at once.
    await createNode(node(`pc-${run}`, { cpu: '1', memory: '2Gi', pods: '5' }, { zone: 'a' }));
    await settles(onA, 10, 'a new node counts');
    await core.deleteNode({ name: `pc-${run}` });
    await settles(onA, 8, 'a deleted node does not');
  });
});

const skipReason = hubUnavailableReason(env);
if (skipReason !== undefined) process.stdout.write(`skipping the predictor through the parent: ${skipReason}\n`);

describe.skipIf(skipReason !== undefined)('the agent serves the predictor to the hub through its tunnel', () => {
  let hub: GoTunnelServer;
  let approver: TestApprover;
  const agents: AgentProcess[] = [];

  beforeAll(async () => {
    await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
    approver = new TestApprover(env.adminKubeConfig('parent'), { socketConnection: true });
    approver.start();
    hub = await startTunnelHub(env, 'v0.3.0');
  }, 120_000);
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await approver.stop();
    await hub.stop();
  });

  async function startAgent(gates: string): Promise<{ clusterId: string; dedicatedNamespace: string; port: number }> {
    const token = await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
    const system = `pa-${randomBytes(3).toString('hex')}`;
    await core.createNamespace({ body: { metadata: { name: system } } });
    const [port = 0] = await freePorts(1);
    const agent = AgentProcess.start([
      `--cluster-reg-parent-url=${env.server('parent')}`,
      `--cluster-reg-token=${token.token}`,
      `--kubeconfig=${env.adminKubeconfigPath('child')}`,
      `--leader-elect-resource-namespace=${system}`,
      `--feature-gates=${gates}`,
      `--predictor-port=${String(port)}`,
      '--cluster-status-collect-frequency=2s',
      '--secure-port=0',
    ]);
    agents.push(agent);
    const registered = await agent.waitForLine('registration', (l) => typeof l.clusterId === 'string');
    const clusterId = registered.clusterId as string;
    await eventually('the hub sees the session', async () => ((await hub.hasSession(clusterId)) ? true : undefined));
    return { clusterId, dedicatedNamespace: registered.dedicatedNamespace as string, port };
  }

  it('answers …/proxy/http/localhost:<port>/replicas/predict and publishes predictorEnabled/Address', async () => {
    const { clusterId, dedicatedNamespace, port } = await startAgent('SocketConnection=true,Predictor=true');
    const url = hub.proxyUrl(clusterId, 'http', `localhost:${String(port)}`, '/replicas/predict');
    const call = (body: string) =>
      hub.call(url, {
        method: 'POST',
        body: Buffer.from(body),
        headers: { 'Content-Type': 'application/json', 'Cluster-ID': clusterId },
      });
    const ok = await eventually(
      'the predictor answers through the tunnel',
      async () => {
        const r = await call(ask({ cpu: '500m', memory: '1Gi' }, { zone: 'b' }));
        return r.status === 200 ? r : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(ok.body.toString()).toBe('{\n "replicas": {\n  "default": 2\n }\n}');
    const none = await call(ask({}, { zone: 'nowhere' }));
    expect(none.status).toBe(500);
    expect(none.body.toString()).toBe('no feasible nodes found\n');
    const bad = await call('{"resources":{"requests":{"cpu":"lots"}}}');
    expect(bad.status).toBe(400);
    expect(bad.body.toString()).toMatch(/^decoding ReplicaRequirements: [^\n]+\n$/);
    // The allow-list admits exactly the predictor: the next port is refused.
    const other = await hub.call(
      hub.proxyUrl(clusterId, 'http', `localhost:${String(port + 1)}`, '/replicas/predict'),
      {
        method: 'POST',
        body: Buffer.from('{}'),
      },
    );
    expect(other.status).not.toBe(200);

    const status = await eventually('a report', async () => {
      const list = (await env.adminClient('parent', CustomObjectsApi).listNamespacedCustomObject({
        group: 'clusters.clusternet.io',
        version: 'v1beta1',
        namespace: dedicatedNamespace,
        plural: 'managedclusters',
        labelSelector: `clusters.clusternet.io/cluster-id=${clusterId}`,
      })) as { items: { status?: Record<string, unknown> }[] };
      const s = list.items[0]?.status;
      return s?.lastObservedTime === undefined ? undefined : s;
    });
    expect(status).toMatchObject({
      predictorEnabled: true,
      predictorAddress: `http://localhost:${String(port)}`,
      predictorDirectAccess: false,
      useSocket: true,
    });
  }, 120_000);

  it('without the gate serves nothing and the tunnel refuses the address', async () => {
    const { clusterId, port } = await startAgent('SocketConnection=true');
    const r = await hub.call(hub.proxyUrl(clusterId, 'http', `localhost:${String(port)}`, '/replicas/predict'), {
      method: 'POST',
      body: Buffer.from('{}'),
    });
    expect(r.status).not.toBe(200);
    expect(r.body.toString()).not.toContain('replicas');
  }, 120_000);
});
