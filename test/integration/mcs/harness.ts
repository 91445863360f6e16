// What the multi-cluster service tests need around the syncer, made the way the real parts make it:
// the chart rendered by the real helm with the MultiClusterService gate (its CRDs installed into the
// child, its minimal ClusterRole bound to a fresh ServiceAccount whose token the syncer uses), a cluster
// registered through the test approver (dedicated namespace and credentials as the hub grants them),
// and the real src/ actors running the statechart.

import { randomBytes } from 'node:crypto';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  type KubeConfig,
  type V1CustomResourceDefinition,
  type V1PolicyRule,
} from '@kubernetes/client-node';
import { createActor, type Actor } from 'xstate';
import type { mcsMachine } from '../../../machines/mcs/machine.ts';
import { createMcsMachine, type McsState } from '../../../src/mcs/actors.ts';
import { render, type Manifest } from '../../chart/helm.ts';
import { eventually } from '../../env/eventually.ts';
import type { TestEnv } from '../../env/test-env.ts';
import { agentConfig, fileLogger, registerCluster, type RegisteredCluster } from '../helpers/deployer-harness.ts';

const is409 = (err: unknown): boolean => (err as { code?: number }).code === 409;

/** The chart rendered with the gate on, default (minimal) RBAC, CRDs included. */
export async function renderChartWithMcs(): Promise<Manifest[]> {
  return render({ featureGates: 'MultiClusterService=true' }, { extra: ['--include-crds'] });
}

/** Installs the chart's CRDs into the child (as `helm install` does) and waits until ServiceExports are served. */
export async function installChartCrds(env: TestEnv, manifests: readonly Manifest[]): Promise<string[]> {
  const api = env.adminClient('child', ApiextensionsV1Api);
  const crds = manifests.filter(
    (m) => m.kind === 'CustomResourceDefinition',
  ) as unknown as V1CustomResourceDefinition[];
  for (const crd of crds)
    await api.createCustomResourceDefinition({ body: crd }).catch((err: unknown) => {
      if (!is409(err)) throw err;
    });
  const objects = env.adminClient('child', CustomObjectsApi);
  for (const crd of crds) {
    await eventually(`CRD ${crd.metadata?.name ?? ''} served`, () =>
      objects.listClusterCustomObject({
        group: crd.spec.group,
        version: 'v1alpha1',
        plural: crd.spec.names.plural,
        limit: 1,
      }),
    );
  }
  return crds.map((c) => c.metadata?.name ?? '');
}

/**
 * A ServiceAccount in the child bound to exactly the rules of the chart's agent ClusterRole (the
 * syncer's reads and writes in the child are all cluster-scoped), and a KubeConfig with its token.
 */
export async function chartIdentity(env: TestEnv, manifests: readonly Manifest[]): Promise<KubeConfig> {
  const role = manifests.find((m) => m.kind === 'ClusterRole' && !m.metadata.name.endsWith(':app-deployer'));
  if (role === undefined) throw new Error('the chart rendered no agent ClusterRole');
  const rules = (role as unknown as { rules: V1PolicyRule[] }).rules;
  const name = `mcs-agent-${randomBytes(3).toString('hex')}`;
  const core = env.adminClient('child', CoreV1Api);
  const rbac = env.adminClient('child', RbacAuthorizationV1Api);
  await core.createNamespace({ body: { metadata: { name } } });
  await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'clusternet-agent' } } });
  await rbac.createClusterRole({ body: { metadata: { name }, rules } });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name: 'clusternet-agent', namespace: name }],
    },
  });
  const tr = await core.createNamespacedServiceAccountToken({
    name: 'clusternet-agent',
    namespace: name,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  return env.tokenKubeConfig('child', tr.status?.token ?? '');
}

export interface RunningSyncer {
  readonly cluster: RegisteredCluster;
  readonly actor: Actor<typeof mcsMachine>;
  readonly state: McsState;
  readonly logPath: string;
}

/** A registered cluster and the real syncer running for it with the given child identity. */
export async function startSyncer(env: TestEnv, name: string, child: KubeConfig): Promise<RunningSyncer> {
  const cluster = await registerCluster(env, 'Dual');
  const config = agentConfig(env, {
    systemNamespace: 'clusternet-system',
    syncMode: 'Dual',
    gates: 'MultiClusterService=true',
  });
  const { log, path } = fileLogger(`mcs-${name}`);
  let state: McsState | undefined;
  const machine = createMcsMachine({ config, child, log, parent: () => Promise.resolve(cluster.parent) }, (s) => {
    state = s;
  });
  const actor = createActor(machine, { input: { enabled: true, dedicatedNamespace: cluster.dedicatedNamespace } });
  actor.subscribe({
    error: (err: unknown) => {
      log.error({ err: String(err) }, 'mcs actor failed');
    },
  });
  actor.start();
  if (state === undefined) throw new Error('no syncer state');
  return { cluster, actor, state, logPath: path };
}
