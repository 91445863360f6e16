// What the deployer needs around it, made the way the real parts make it: a cluster registered
// through the test approver (its dedicated namespace and credentials in the parent, as the hub grants
// them), the app-deployer ServiceAccount and token Secret in the child (as the agent chart installs
// them, the token filled in by the child's own token controller), and the agent's configuration.

import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  type CoreV1Event,
  type KubeConfig,
} from '@kubernetes/client-node';
import { createActor, type Actor } from 'xstate';
import type { Description, KubeObject } from '../../../machines/deployer/decisions.ts';
import type { deployerMachine } from '../../../machines/deployer/machine.ts';
import { createDeployerMachine } from '../../../src/deployer/actors.ts';
import { parseCommandLine, type AgentConfig, type SyncMode } from '../../../src/config/config.ts';
import { createRootLogger, type Logger } from '../../../src/logging/logger.ts';
import type { ParentAccess } from '../../../src/parent/access.ts';
import { dedicatedKubeConfig } from '../../../src/parent/kube-config.ts';
import {
  approvedCredentials,
  buildRequest,
  crrGroup,
  crrPlural,
  crrVersion,
  requestName,
  requestView,
  type RequestObject,
} from '../../../src/registration/wire.ts';
import { eventually } from '../../env/eventually.ts';
import type { TestEnv } from '../../env/test-env.ts';

export interface RegisteredCluster {
  readonly clusterId: string;
  readonly dedicatedNamespace: string;
  readonly parent: ParentAccess;
}

/** Registers a cluster ID through the running test approver, as the agent would. */
export async function registerCluster(env: TestEnv, syncMode: SyncMode): Promise<RegisteredCluster> {
  const clusterId = crypto.randomUUID();
  const objects = env.adminClient('parent', CustomObjectsApi);
  await objects.createClusterCustomObject({
    group: crrGroup,
    version: crrVersion,
    plural: crrPlural,
    body: buildRequest({
      clusterId,
      clusterName: `dep-${randomBytes(3).toString('hex')}`,
      clusterType: 'EdgeCluster',
      syncMode,
      clusterNamespace: undefined,
      clusterLabels: {},
    }),
  });
  const crr = await eventually('the registration to be approved', async () => {
    const got = (await objects.getClusterCustomObject({
      group: crrGroup,
      version: crrVersion,
      plural: crrPlural,
      name: requestName(clusterId),
    })) as RequestObject;
    if (approvedCredentials(got) !== undefined) return got;
    // Not yet: say how many requests the approver has in hand, should this time out.
    const all = (await objects.listClusterCustomObject({
      group: crrGroup,
      version: crrVersion,
      plural: crrPlural,
    })) as {
      items: RequestObject[];
    };
    const pending = all.items.filter((r) => requestView(r).result === undefined).length;
    throw new Error(
      `not approved yet; ${String(pending)} of ${String(all.items.length)} requests in the parent pending`,
    );
  });
  const credentials = approvedCredentials(crr);
  const dedicatedNamespace = requestView(crr).dedicatedNamespace;
  if (credentials === undefined || dedicatedNamespace === undefined) throw new Error('approval without credentials');
  const parentUrl = env.server('parent');
  return {
    clusterId,
    dedicatedNamespace,
    parent: { parentUrl, credentials, kubeConfig: dedicatedKubeConfig(parentUrl, credentials) },
  };
}

/** The app-deployer identity in the child: a ServiceAccount bound to cluster-admin and its token Secret. */
export async function installAppDeployer(childAdmin: KubeConfig, systemNamespace: string): Promise<void> {
  const core = childAdmin.makeApiClient(CoreV1Api);
  const rbac = childAdmin.makeApiClient(RbacAuthorizationV1Api);
  const name = 'clusternet-app-deployer';
  await core.createNamespace({ body: { metadata: { name: systemNamespace } } });
  await core.createNamespacedServiceAccount({ namespace: systemNamespace, body: { metadata: { name } } });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: `${name}-${systemNamespace}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name, namespace: systemNamespace }],
    },
  });
  await core.createNamespacedSecret({
    namespace: systemNamespace,
    body: {
      metadata: { name, annotations: { 'kubernetes.io/service-account.name': name } },
      type: 'kubernetes.io/service-account-token',
    },
  });
  await eventually('the app-deployer token', async () => {
    const s = await core.readNamespacedSecret({ name, namespace: systemNamespace });
    return s.data?.token;
  });
}

export function agentConfig(
  env: TestEnv,
  opts: { systemNamespace: string; syncMode: SyncMode; gates: string; extraArgs?: readonly string[] },
): AgentConfig {
  const inv = parseCommandLine([
    `--cluster-reg-parent-url=${env.server('parent')}`,
    '--cluster-reg-token=abcdef.0123456789abcdef',
    `--cluster-sync-mode=${opts.syncMode}`,
    `--feature-gates=${opts.gates}`,
    `--leader-elect-resource-namespace=${opts.systemNamespace}`,
    `--kubeconfig=${env.adminKubeconfigPath('child')}`,
    ...(opts.extraArgs ?? []),
  ]);
  if (inv.kind !== 'run') throw new Error(`bad test configuration: ${JSON.stringify(inv)}`);
  return inv.config;
}

/** A logger writing to a file under the temporary directory (path returned for failure messages). */
export function fileLogger(name: string): { log: Logger; path: string } {
  const path = join(tmpdir(), `deployer-${name}-${String(process.pid)}.log`);
  return { log: createRootLogger(4, createWriteStream(path)), path };
}

/** A Generic Description as the controller-manager writes it: spec.raw = base64 of each object's JSON. */
export function description(
  namespace: string,
  name: string,
  objects: readonly (KubeObject | string)[],
): Record<string, unknown> {
  return {
    apiVersion: 'apps.clusternet.io/v1alpha1',
    kind: 'Description',
    metadata: { name, namespace, labels: { 'clusternet.io/created-by': 'clusternet-controller-manager' } },
    spec: {
      deployer: 'Generic',
      raw: objects.map((o) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64')),
    },
  };
}

/** Descriptions in the parent, written and read as the controller-manager does (admin credentials). */
export function parentDescriptions(env: TestEnv) {
  const api = () => env.adminClient('parent', CustomObjectsApi);
  const at = (namespace: string) => ({
    group: 'apps.clusternet.io',
    version: 'v1alpha1',
    namespace,
    plural: 'descriptions',
  });
  const read = async (namespace: string, name: string): Promise<Description> =>
    (await api().getNamespacedCustomObject({ ...at(namespace), name })) as Description;
  const create = async (namespace: string, name: string, objects: readonly (KubeObject | string)[]): Promise<void> => {
    await api().createNamespacedCustomObject({ ...at(namespace), body: description(namespace, name, objects) });
  };
  /** Replaces `spec.raw` of an existing Description. */
  const replaceRaw = async (namespace: string, name: string, objects: readonly (KubeObject | string)[]) => {
    const d = await read(namespace, name);
    const { spec } = description(namespace, name, objects) as { spec: unknown };
    await api().replaceNamespacedCustomObject({ ...at(namespace), name, body: { ...d, spec } });
  };
  /** Creates the Description, or replaces its `spec.raw` when it exists. */
  const put = async (namespace: string, name: string, objects: readonly (KubeObject | string)[]): Promise<void> => {
    try {
      await replaceRaw(namespace, name, objects);
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
      await create(namespace, name, objects);
    }
  };
  return { read, create, replaceRaw, put };
}

/**
 * A registered cluster, the app-deployer identity in the child, and the real deployer statechart
 * running for it (logging to a file); the caller stops the actor.
 */
export async function startDeployer(
  env: TestEnv,
  name: string,
  opts: { syncMode: 'Pull' | 'Dual'; gates: string; extraArgs?: readonly string[] },
): Promise<{ cluster: RegisteredCluster; logPath: string; actor: Actor<typeof deployerMachine> }> {
  const cluster = await registerCluster(env, opts.syncMode);
  const systemNamespace = `cnet-${randomBytes(3).toString('hex')}`;
  await installAppDeployer(env.adminKubeConfig('child'), systemNamespace);
  const config = agentConfig(env, { systemNamespace, ...opts });
  const { log, path } = fileLogger(name);
  const machine = createDeployerMachine({
    config,
    child: env.adminKubeConfig('child'),
    log,
    parent: () => Promise.resolve(cluster.parent),
  });
  const actor = createActor(machine, {
    input: {
      clusterId: cluster.clusterId,
      dedicatedNamespace: cluster.dedicatedNamespace,
      syncMode: opts.syncMode,
      appPusher: config.featureGates.AppPusher,
    },
  });
  actor.subscribe({
    error: (err: unknown) => {
      log.error({ err: String(err) }, 'deployer actor failed');
    },
  });
  actor.start();
  return { cluster, logPath: path, actor };
}

/** True once `read` answers 404 (for `eventually`); undefined while the object is there. */
export async function absent(read: () => Promise<unknown>): Promise<boolean | undefined> {
  try {
    await read();
    return undefined;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return true;
    throw err;
  }
}

/** The Events in a namespace of the parent about one object (by name). */
export async function eventsAbout(env: TestEnv, namespace: string, name: string): Promise<CoreV1Event[]> {
  const list = await env.adminClient('parent', CoreV1Api).listNamespacedEvent({
    namespace,
    fieldSelector: `involvedObject.name=${name}`,
  });
  return list.items;
}
