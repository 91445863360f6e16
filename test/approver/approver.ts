// A test-only stand-in for Clusternet's registration approver (spec §3.6), which runs in the real
// parent's clusternet-controller-manager: for each ClusterRegistrationRequest it makes the dedicated
// namespace, ManagedCluster, ServiceAccount (+ token Secret filled by kube-controller-manager), RBAC,
// and writes the CRR status. Like the real one it never re-processes a request whose result is set.

import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  type KubeConfig,
  type V1Secret,
} from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from '../env/eventually.ts';

const group = 'clusters.clusternet.io';
const version = 'v1beta1';
const createdBy = 'clusternet.io/created-by';
const clusterIdLabel = 'clusters.clusternet.io/cluster-id';
const clusterNameLabel = 'clusters.clusternet.io/cluster-name';

interface Crr {
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> };
  spec: {
    clusterId: string;
    clusterType?: string;
    clusterName?: string;
    clusterNamespace?: string;
    syncMode?: string;
    clusterLabels?: Record<string, string>;
  };
  status?: { result?: string };
}

export interface ApproverOptions {
  /** Return a reason to deny a request (the real approver only denies a name/ID mismatch). */
  readonly deny?: (crr: Crr) => string | undefined;
  /** Add the `sockets` rule (the approver process's SocketConnection gate). */
  readonly socketConnection?: boolean;
  readonly pollMs?: number;
}

export interface ApprovalRecord {
  readonly name: string;
  /** When this approver first saw the request and when it wrote the result (performance.now()). */
  readonly seenAt: number;
  readonly decidedAt: number;
  readonly result: 'Approved' | 'Denied';
}

const failureBackoffMs = 1000;

const conflictOr404 = (err: unknown, ...codes: number[]): boolean =>
  err instanceof ApiException && codes.includes(err.code);

export class TestApprover {
  readonly records: ApprovalRecord[] = [];
  readonly #kc: KubeConfig;
  readonly #opts: ApproverOptions;
  #running = false;
  #loop: Promise<void> | undefined;
  readonly #seen = new Map<string, number>();
  readonly #inFlight = new Map<string, Promise<void>>();
  /**
   * The version of each request this approver wrote a result for: a list made while it wrote may still
   * show that version pending. A request made again, or its result cleared, is a new version.
   */
  readonly #decided = new Map<string, string | undefined>();
  readonly #retryAt = new Map<string, number>();
  /** Why the last list of requests failed (undefined once one succeeds). */
  lastError: string | undefined;
  /** The last failure of each request not decided yet (a test's failure report prints them). */
  readonly failures = new Map<string, string>();

  constructor(parentAdmin: KubeConfig, opts: ApproverOptions = {}) {
    this.#kc = parentAdmin;
    this.#opts = opts;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stops processing (requests stay pending until started again) once the requests in hand are done. */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
    await Promise.all(this.#inFlight.values());
  }

  // Each pending request is processed on its own, as the real controller's workers do: one that
  // waits (a token Secret not filled yet) or fails (its namespace being deleted by the test that left
  // it) must not hold up the others; a failed one is tried again after `failureBackoffMs`.
  async #run(): Promise<void> {
    const objects = this.#kc.makeApiClient(CustomObjectsApi);
    while (this.#running) {
      try {
        const list = (await objects.listClusterCustomObject({
          group,
          version,
          plural: 'clusterregistrationrequests',
        })) as {
          items: Crr[];
        };
        this.lastError = undefined;
        for (const crr of list.items) {
          if (crr.status?.result !== undefined && crr.status.result !== '') continue;
          this.#dispatch(crr);
        }
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err); // parent down: keep trying
      }
      await sleep(this.#opts.pollMs ?? 100);
    }
  }

  #dispatch(crr: Crr): void {
    const name = crr.metadata.name;
    const stale = this.#decided.has(name) && this.#decided.get(name) === crr.metadata.resourceVersion;
    if (stale || this.#inFlight.has(name) || (this.#retryAt.get(name) ?? 0) > performance.now()) return;
    if (!this.#seen.has(name)) this.#seen.set(name, performance.now());
    const work = this.#process(crr)
      .then(() => {
        this.#decided.set(name, crr.metadata.resourceVersion);
        this.failures.delete(name);
      })
      .catch((err: unknown) => {
        this.failures.set(name, err instanceof Error ? err.message : String(err));
        this.#retryAt.set(name, performance.now() + failureBackoffMs);
      })
      .finally(() => this.#inFlight.delete(name));
    this.#inFlight.set(name, work);
  }

  async #process(crr: Crr): Promise<void> {
    const id = crr.spec.clusterId;
    const denial =
      crr.metadata.name.replace(/^clusternet-/, '') !== id
        ? `ClusterRegistrationRequest name ${crr.metadata.name} does not match cluster id ${id}`
        : this.#opts.deny?.(crr);
    if (denial !== undefined) {
      await this.#writeStatus(crr, { result: 'Denied', errorMessage: denial });
      return;
    }
    const core = this.#kc.makeApiClient(CoreV1Api);
    const rbac = this.#kc.makeApiClient(RbacAuthorizationV1Api);
    const objects = this.#kc.makeApiClient(CustomObjectsApi);
    const selector = `${createdBy}=clusternet-agent,${clusterIdLabel}=${id}`;
    const labels = { [createdBy]: 'clusternet-agent', [clusterIdLabel]: id };
    const name = crr.spec.clusterName ?? '';

    // Namespace: reuse by labels, else create.
    const namespaces = await core.listNamespace({ labelSelector: selector });
    const namespace =
      namespaces.items[0]?.metadata?.name ??
      (
        await core.createNamespace({
          body: {
            metadata: {
              ...(crr.spec.clusterNamespace === undefined
                ? { generateName: 'clusternet-' }
                : { name: crr.spec.clusterNamespace }),
              labels: { ...labels, [clusterNameLabel]: name },
            },
          },
        })
      ).metadata?.name ??
      '';

    // ManagedCluster.
    const mcs = (await objects.listClusterCustomObject({
      group,
      version,
      plural: 'managedclusters',
      labelSelector: selector,
    })) as {
      items: { metadata: { name: string } }[];
    };
    const mcName =
      mcs.items[0]?.metadata.name ??
      (
        (await objects.createNamespacedCustomObject({
          group,
          version,
          namespace,
          plural: 'managedclusters',
          body: {
            apiVersion: `${group}/${version}`,
            kind: 'ManagedCluster',
            metadata: { name, labels: { ...labels, [clusterNameLabel]: name, ...crr.spec.clusterLabels } },
            spec: { clusterId: id, clusterType: crr.spec.clusterType, syncMode: crr.spec.syncMode },
          },
        })) as { metadata: { name: string } }
      ).metadata.name;

    // ServiceAccount and its token Secret (kube-controller-manager fills it).
    const sas = await core.listNamespacedServiceAccount({ namespace, labelSelector: selector });
    const saName =
      sas.items[0]?.metadata?.name ??
      (
        await core.createNamespacedServiceAccount({
          namespace,
          body: { metadata: { generateName: 'clusternet-', labels: { ...labels, [clusterNameLabel]: name } } },
        })
      ).metadata?.name ??
      '';
    await core
      .createNamespacedSecret({
        namespace,
        body: {
          metadata: { name: saName, annotations: { 'kubernetes.io/service-account.name': saName } },
          type: 'kubernetes.io/service-account-token',
        },
      })
      .catch((err: unknown) => {
        if (!conflictOr404(err, 409)) throw err;
      });

    // RBAC: cluster-wide and in the dedicated namespace.
    const roleName = `clusternet-${id}`;
    const rules = [
      { apiGroups: [group], resources: ['clusterregistrationrequests'], verbs: ['create', 'get'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
      ...(this.#opts.socketConnection === true
        ? [{ apiGroups: ['proxies.clusternet.io'], resources: ['sockets'], resourceNames: [id], verbs: ['*'] }]
        : []),
    ];
    const meta = {
      annotations: { 'clusternet.io/autoupdate': 'true' },
      labels: { 'clusters.clusternet.io/bootstrapping': 'rbac-defaults', [createdBy]: 'clusternet-controller-manager' },
    };
    const subject = [{ kind: 'ServiceAccount', name: saName, namespace }];
    // Create or update, as the real approver does for objects annotated clusternet.io/autoupdate: a
    // binding left from an earlier approval must point at the current ServiceAccount.
    const upsert = async (create: () => Promise<unknown>, replace: () => Promise<unknown>): Promise<void> => {
      await create().catch(async (err: unknown) => {
        if (!conflictOr404(err, 409)) throw err;
        await replace();
      });
    };
    const clusterMeta = { name: roleName, ...meta, labels: { ...meta.labels, [clusterIdLabel]: id } };
    const clusterRole = { metadata: clusterMeta, rules };
    await upsert(
      () => rbac.createClusterRole({ body: clusterRole }),
      () => rbac.replaceClusterRole({ name: roleName, body: clusterRole }),
    );
    const clusterBinding = {
      metadata: clusterMeta,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
      subjects: subject,
    };
    await upsert(
      () => rbac.createClusterRoleBinding({ body: clusterBinding }),
      () => rbac.replaceClusterRoleBinding({ name: roleName, body: clusterBinding }),
    );
    const nsRole = 'clusternet-managedcluster-role';
    const role = { metadata: { name: nsRole, ...meta }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] };
    await upsert(
      () => rbac.createNamespacedRole({ namespace, body: role }),
      () => rbac.replaceNamespacedRole({ name: nsRole, namespace, body: role }),
    );
    const binding = {
      metadata: { name: nsRole, ...meta },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: nsRole },
      subjects: subject,
    };
    await upsert(
      () => rbac.createNamespacedRoleBinding({ namespace, body: binding }),
      () => rbac.replaceNamespacedRoleBinding({ name: nsRole, namespace, body: binding }),
    );

    // Wait for token and ca.crt, then approve. Go []byte fields are base64 in JSON: the Secret's
    // base64 data goes into the status as it is.
    const secret = await eventually<V1Secret>(
      `token Secret ${namespace}/${saName}`,
      async () => {
        const s = await core.readNamespacedSecret({ name: saName, namespace });
        return s.data?.token !== undefined && s.data['ca.crt'] !== undefined ? s : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    await this.#writeStatus(crr, {
      result: 'Approved',
      errorMessage: '',
      dedicatedNamespace: namespace,
      managedClusterName: mcName,
      token: secret.data?.token ?? '',
      caCertificate: secret.data?.['ca.crt'] ?? '',
    });
  }

  async #writeStatus(crr: Crr, status: Record<string, string>): Promise<void> {
    const objects = this.#kc.makeApiClient(CustomObjectsApi);
    const live = (await objects.getClusterCustomObject({
      group,
      version,
      plural: 'clusterregistrationrequests',
      name: crr.metadata.name,
    })) as Crr;
    await objects.replaceClusterCustomObjectStatus({
      group,
      version,
      plural: 'clusterregistrationrequests',
      name: crr.metadata.name,
      body: { ...live, status },
    });
    this.records.push({
      name: crr.metadata.name,
      seenAt: this.#seen.get(crr.metadata.name) ?? performance.now(),
      decidedAt: performance.now(),
      result: status.result === 'Approved' ? 'Approved' : 'Denied',
    });
  }
}

export const bootstrapGroup = 'system:bootstrappers:clusternet:register-cluster-token';

/**
 * Prepares the parent as Clusternet's hub chart does for registration: the CRDs, and ClusterRole
 * `clusternet:system:bootstrapping` (get/create CRRs) bound to the registration token group.
 */
export async function prepareParent(parentAdmin: KubeConfig, installCrds: () => Promise<unknown>): Promise<void> {
  await installCrds();
  const rbac = parentAdmin.makeApiClient(RbacAuthorizationV1Api);
  const name = 'clusternet:system:bootstrapping';
  const ignoreExists = (err: unknown): void => {
    if (!conflictOr404(err, 409)) throw err;
  };
  await rbac
    .createClusterRole({
      body: {
        metadata: { name },
        rules: [{ apiGroups: [group], resources: ['clusterregistrationrequests'], verbs: ['create', 'get'] }],
      },
    })
    .catch(ignoreExists);
  await rbac
    .createClusterRoleBinding({
      body: {
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
        subjects: [{ kind: 'Group', name: bootstrapGroup, apiGroup: 'rbac.authorization.k8s.io' }],
      },
    })
    .catch(ignoreExists);
}
