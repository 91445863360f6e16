// The deployer against the real parent and child apiservers: a cluster registered through the test
// approver, Descriptions written into its dedicated namespace as the controller-manager writes them,
// and the real src/ actors applying them to the child with the app-deployer identity.

import { randomBytes } from 'node:crypto';
import { ApiextensionsV1Api, AppsV1Api, CoreV1Api, CustomObjectsApi, type V1ConfigMap } from '@kubernetes/client-node';
import type { Actor } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalizer, ownedByAnnotation, type KubeObject } from '../../../machines/deployer/decisions.ts';
import type { deployerMachine } from '../../../machines/deployer/machine.ts';
import { fieldManager } from '../../../src/deployer/child-objects.ts';
import { bootstrapGroup, prepareParent, TestApprover } from '../../approver/approver.ts';
import { eventually } from '../../env/eventually.ts';
import { testEnv } from '../../env/vitest-env.ts';
import {
  absent,
  parentDescriptions,
  startDeployer as startDeployerFor,
  type RegisteredCluster,
} from '../helpers/deployer-harness.ts';

const env = testEnv();
const suffix = randomBytes(3).toString('hex');
const appNs = `app-${suffix}`;
let approver: TestApprover;
const actors: Actor<typeof deployerMachine>[] = [];

const group = 'apps.clusternet.io';
const version = 'v1alpha1';
const parentObjects = () => env.adminClient('parent', CustomObjectsApi);
const childCore = () => env.adminClient('child', CoreV1Api);
const childApps = () => env.adminClient('child', AppsV1Api);
const childObjects = () => env.adminClient('child', CustomObjectsApi);

const configMap = (name: string, data: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: appNs, labels: { app: 'demo' } },
  data,
});
const deployment = (name: string, replicas: number): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: appNs },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: 'web', image: 'registry.k8s.io/pause:3.10' }] },
    },
  },
});
const widget = (name: string, size: number): KubeObject => ({
  apiVersion: 'example.clusternet.io/v1',
  kind: 'Widget',
  metadata: { name, namespace: appNs },
  spec: { size },
});

const descriptions = parentDescriptions(env);
const { create: createDescription, read: readDescription, replaceRaw } = descriptions;
const readConfigMap = (name: string): Promise<V1ConfigMap> =>
  childCore().readNamespacedConfigMap({ name, namespace: appNs });

async function startDeployer(
  name: string,
  syncMode: 'Pull' | 'Dual',
  gates: string,
  extraArgs: readonly string[] = [],
): Promise<{ cluster: RegisteredCluster; logPath: string; actor: Actor<typeof deployerMachine> }> {
  const started = await startDeployerFor(env, name, { syncMode, gates, extraArgs });
  actors.push(started.actor);
  return started;
}

beforeAll(async () => {
  await prepareParent(env.adminKubeConfig('parent'), () => env.installClusternetCrds());
  await env.createBootstrapToken('parent', { extraGroups: [bootstrapGroup] });
  approver = new TestApprover(env.adminKubeConfig('parent'), { pollMs: 50 });
  approver.start();
  await childCore().createNamespace({ body: { metadata: { name: appNs } } });
  // A CRD in the child, for a CRD-backed object in a Description.
  await env
    .adminClient('child', ApiextensionsV1Api)
    .createCustomResourceDefinition({
      body: {
        metadata: { name: 'widgets.example.clusternet.io' },
        spec: {
          group: 'example.clusternet.io',
          scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } },
                },
              },
            },
          ],
        },
      },
    })
    .catch((err: unknown) => {
      if ((err as { code?: number }).code !== 409) throw err;
    });
  await eventually('the Widget CRD to be served', async () => {
    const list: unknown = await childObjects().listNamespacedCustomObject({
      group: 'example.clusternet.io',
      version: 'v1',
      namespace: appNs,
      plural: 'widgets',
    });
    return list;
  });
}, 120_000);

afterAll(async () => {
  for (const a of actors.splice(0)) a.stop();
  await approver.stop();
  await childCore()
    .deleteNamespace({ name: appNs })
    .catch(() => undefined);
});

describe('deployer in Pull mode with Recovery', () => {
  let cluster: RegisteredCluster;
  let logPath = '';
  const ns = (): string => cluster.dedicatedNamespace;

  beforeAll(async () => {
    ({ cluster, logPath } = await startDeployer('pull', 'Pull', 'Recovery=true'));
  }, 120_000);

  it('publishes the child-cluster-deployer Secret in the dedicated namespace', async () => {
    const secret = await eventually('child-cluster-deployer', () =>
      env.adminClient('parent', CoreV1Api).readNamespacedSecret({ name: 'child-cluster-deployer', namespace: ns() }),
    );
    expect(secret.metadata?.labels).toMatchObject({
      'clusternet.io/created-by': 'clusternet-agent',
      'clusters.clusternet.io/cluster-id': cluster.clusterId,
    });
    expect(secret.metadata?.finalizers).toEqual([finalizer]);
    const text = (k: string): string => Buffer.from(secret.data?.[k] ?? '', 'base64').toString('utf8');
    expect(text('apiserver-advertise-url')).toBe(env.server('child'));
    expect(text('service-account.name')).toBe('clusternet-app-deployer');
    expect(text('token').split('.')).toHaveLength(3);
    expect(text('ca.crt')).toContain('BEGIN CERTIFICATE');
  });

  it('applies a Deployment, a ConfigMap and a CRD-backed object, and reports Success', async () => {
    await createDescription(ns(), 'base-generic', [
      configMap('demo-config', { greeting: 'hello' }),
      deployment('demo-web', 2),
      widget('demo-widget', 3),
    ]);
    const status = await eventually(`Description status Success (log ${logPath})`, async () => {
      const d = await readDescription(ns(), 'base-generic');
      return d.status?.phase === 'Success' ? d : undefined;
    });
    expect(status.metadata.finalizers).toContain(finalizer);
    expect(status.status?.reason ?? '').toBe('');
    expect(status.status?.manifestStatuses?.map((m) => `${m.kind}/${m.name}`).sort()).toEqual([
      'ConfigMap/demo-config',
      'Deployment/demo-web',
      'Widget/demo-widget',
    ]);
    const cm = await readConfigMap('demo-config');
    expect(cm.data).toEqual({ greeting: 'hello' });
    expect(cm.metadata?.annotations?.[ownedByAnnotation]).toBe(`${ns()}.base-generic`);
    expect(cm.metadata?.managedFields?.map((f) => `${f.manager ?? ''}:${f.operation ?? ''}`)).toContain(
      `${fieldManager}:Apply`,
    );
    const dep = await childApps().readNamespacedDeployment({ name: 'demo-web', namespace: appNs });
    expect(dep.spec?.replicas).toBe(2);
    const w = (await childObjects().getNamespacedCustomObject({
      group: 'example.clusternet.io',
      version: 'v1',
      namespace: appNs,
      plural: 'widgets',
      name: 'demo-widget',
    })) as KubeObject;
    expect(w.spec).toEqual({ size: 3 });
  });

  it('rolls out a change of the Description', async () => {
    await replaceRaw(ns(), 'base-generic', [
      configMap('demo-config', { greeting: 'bonjour' }),
      deployment('demo-web', 3),
      widget('demo-widget', 5),
    ]);
    await eventually('the new ConfigMap data', async () =>
      (await readConfigMap('demo-config')).data?.greeting === 'bonjour' ? true : undefined,
    );
    await eventually('the new replica count', async () =>
      (await childApps().readNamespacedDeployment({ name: 'demo-web', namespace: appNs })).spec?.replicas === 3
        ? true
        : undefined,
    );
  });

  it('corrects drift in the child (Recovery)', async () => {
    // Changed by someone else (an update, as kubectl edit makes it).
    const cm = await readConfigMap('demo-config');
    cm.data = { greeting: 'tampered' };
    await childCore().replaceNamespacedConfigMap({ name: 'demo-config', namespace: appNs, body: cm });
    const dep = await childApps().readNamespacedDeployment({ name: 'demo-web', namespace: appNs });
    if (dep.spec !== undefined) dep.spec.replicas = 7;
    await childApps().replaceNamespacedDeployment({ name: 'demo-web', namespace: appNs, body: dep });
    await eventually('the ConfigMap restored', async () =>
      (await readConfigMap('demo-config')).data?.greeting === 'bonjour' ? true : undefined,
    );
    await eventually('the replica count restored', async () =>
      (await childApps().readNamespacedDeployment({ name: 'demo-web', namespace: appNs })).spec?.replicas === 3
        ? true
        : undefined,
    );
  });

  it('reports a malformed manifest as Failure with a clear reason without blocking others', async () => {
    await createDescription(ns(), 'broken-generic', [
      '{"apiVersion": "v1", "kind": "ConfigMap", ',
      configMap('sibling-config', { ok: 'yes' }),
      { apiVersion: 'v1', kind: 'NoSuchKind', metadata: { name: 'x', namespace: appNs } },
    ]);
    await createDescription(ns(), 'other-generic', [configMap('other-config', { n: '1' })]);
    const broken = await eventually('Failure of broken-generic', async () => {
      const d = await readDescription(ns(), 'broken-generic');
      return d.status?.phase === 'Failure' ? d : undefined;
    });
    expect(broken.status?.reason).toMatch(/manifest 0: not a JSON object/);
    expect(broken.status?.reason).toMatch(/applying NoSuchKind .*x: no resource of kind NoSuchKind in v1/);
    expect((await readConfigMap('sibling-config')).data).toEqual({ ok: 'yes' });
    await eventually('Success of other-generic', async () =>
      (await readDescription(ns(), 'other-generic')).status?.phase === 'Success' ? true : undefined,
    );
    expect((await readDescription(ns(), 'base-generic')).status?.phase).toBe('Success');
  });

  it('keeps the workloads while the parent is unreachable, and catches up afterwards', async () => {
    const apiserver = env.component('parent', 'kube-apiserver');
    await apiserver.pause();
    try {
      await new Promise((r) => setTimeout(r, 3_000));
      expect((await readConfigMap('demo-config')).data?.greeting).toBe('bonjour');
      expect((await readConfigMap('other-config')).data).toEqual({ n: '1' });
    } finally {
      await apiserver.resume();
    }
    await replaceRaw(ns(), 'other-generic', [configMap('other-config', { n: '2' })]);
    await eventually(
      'a change after the outage',
      async () => ((await readConfigMap('other-config')).data?.n === '2' ? true : undefined),
      { timeoutMs: 60_000 },
    );
  }, 90_000);

  it('deletes the child objects and releases the finalizer on a real deletion', async () => {
    await parentObjects().deleteNamespacedCustomObject({
      group,
      version,
      namespace: ns(),
      plural: 'descriptions',
      name: 'base-generic',
    });
    await eventually('the Description gone', () => absent(() => readDescription(ns(), 'base-generic')));
    expect(await absent(() => readConfigMap('demo-config'))).toBe(true);
    expect(
      await absent(() =>
        childObjects().getNamespacedCustomObject({
          group: 'example.clusternet.io',
          version: 'v1',
          namespace: appNs,
          plural: 'widgets',
          name: 'demo-widget',
        }),
      ),
    ).toBe(true);
    // Background propagation: the Deployment itself is gone at once, its dependents follow.
    await eventually('the Deployment gone', () =>
      absent(() => childApps().readNamespacedDeployment({ name: 'demo-web', namespace: appNs })),
    );
    // The other Descriptions' objects are untouched.
    expect((await readConfigMap('other-config')).data).toEqual({ n: '2' });
  });
});

describe('deployer in Dual mode with AppPusher on', () => {
  it('publishes the Secret, injects the finalizer (every sync mode) and leaves Descriptions to the parent', async () => {
    const { cluster, actor } = await startDeployer('dual', 'Dual', 'AppPusher=true,Recovery=true');
    const ns = cluster.dedicatedNamespace;
    await eventually('child-cluster-deployer', () =>
      env.adminClient('parent', CoreV1Api).readNamespacedSecret({ name: 'child-cluster-deployer', namespace: ns }),
    );
    await createDescription(ns, 'pushed-generic', [configMap('pushed-config', { by: 'hub' })]);
    // Spec §7.3 step 1: the finalizer goes on in every sync mode.
    await eventually('the finalizer on the pushed Description', async () => {
      const d = await readDescription(ns, 'pushed-generic');
      return d.metadata.finalizers?.includes(finalizer) === true ? d : undefined;
    });
    await new Promise((r) => setTimeout(r, 3_000));
    // Nothing else: no status, nothing in the child.
    expect((await readDescription(ns, 'pushed-generic')).status).toBeUndefined();
    expect(await absent(() => readConfigMap('pushed-config'))).toBe(true);
    expect(actor.getSnapshot().matches('standingBy')).toBe(true);
  });
});

describe('deployer stopped in the middle of a reconcile (leadership term over)', () => {
  it('sends none of the child writes still waiting for the rate limiter, and no status', async () => {
    // One request a second to the child: the applies of this Description queue behind the limiter.
    const { cluster, actor } = await startDeployer('stopped', 'Pull', '', ['--kube-api-qps=1', '--kube-api-burst=1']);
    const ns = cluster.dedicatedNamespace;
    const names = Array.from({ length: 8 }, (_, i) => `slow-${String(i)}`);
    await createDescription(
      ns,
      'slow-generic',
      names.map((n) => configMap(n, { n })),
    );
    const present = async (): Promise<number> => {
      const list = await childCore().listNamespacedConfigMap({ namespace: appNs, labelSelector: 'app=demo' });
      return list.items.filter((c) => names.includes(c.metadata?.name ?? '')).length;
    };
    await eventually('the first apply', async () => ((await present()) > 0 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    actor.stop();
    const atStop = await present();
    await new Promise((r) => setTimeout(r, 4_000));
    // At one a second, four more would have gone out by now; at most the one in flight did.
    expect(await present()).toBeLessThanOrEqual(atStop + 1);
    expect(await present()).toBeLessThan(names.length);
    expect((await readDescription(ns, 'slow-generic')).status).toBeUndefined();
  });
});
