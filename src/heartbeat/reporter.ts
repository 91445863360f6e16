// Writing the status to the parent's ManagedCluster (spec §4.1, §4.3): find it by the cluster-id label
// (and again after a 404, which the Go agent never does), merge the aggregated node labels with a JSON
// merge patch, merge the Ready condition into the hub's conditions, and PUT the status subresource
// with the cached resourceVersion. A conflict surfaces as a `conflict` failure; the machine re-reads
// (refresh) and tries again.

import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '../kube/client-node.ts';
import {
  aggregateNodeLabels,
  labelsPatch,
  mergeConditions,
  readyConditionType,
  type ClusterStatus,
  type Condition,
} from '../../machines/heartbeat/decisions.ts';
import type { HeartbeatInput, ReportInput } from '../../machines/heartbeat/machine.ts';
import { ApiFailure, classifyApiError } from '../kube/errors.ts';
import type { ParentAccess } from '../parent/access.ts';
import { clustersGroup as crrGroup, labels as wireLabels } from '../parent/clusters-api.ts';
import type { NodeStore } from './nodes.ts';

export const managedClusterVersion = 'v1beta1';
export const managedClusterPlural = 'managedclusters';

interface ManagedClusterObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
  spec?: unknown;
  status?: { conditions?: readonly Condition[] } & Record<string, unknown>;
}

export interface ReporterDeps {
  /** The parent with the dedicated credentials; loaded once, on first use. */
  readonly parent: () => Promise<ParentAccess>;
  readonly nodes: NodeStore;
  readonly labelPrefixes: readonly string[];
  readonly labelThreshold: number;
  readonly onLabelsPatched?: (patch: Record<string, string | null>) => void;
}

export interface ClusterReporter {
  report(input: ReportInput): Promise<undefined>;
  refresh(input: HeartbeatInput): Promise<undefined>;
}

const where = (ns: string) => ({
  group: crrGroup,
  version: managedClusterVersion,
  namespace: ns,
  plural: managedClusterPlural,
});
const nameOf = (mc: ManagedClusterObject): string => mc.metadata?.name ?? '';

/** The cluster's ManagedCluster in its dedicated namespace (labelled with the cluster id). */
async function locate(c: CustomObjectsApi, input: HeartbeatInput): Promise<ManagedClusterObject> {
  const list = (await c.listNamespacedCustomObject({
    ...where(input.dedicatedNamespace),
    labelSelector: `${wireLabels.clusterId}=${input.clusterId}`,
  })) as { items?: ManagedClusterObject[] };
  const found = list.items?.[0];
  if (found === undefined) {
    throw new ApiFailure(
      'notFound',
      `no ManagedCluster labelled ${wireLabels.clusterId}=${input.clusterId} in ${input.dedicatedNamespace} yet`,
    );
  }
  return found;
}

/** The status to write: the collected one with our Ready condition merged into the existing conditions. */
function statusWithConditions(mc: ManagedClusterObject, status: ClusterStatus): ClusterStatus {
  const ready = status.conditions.find((c) => c.type === readyConditionType);
  const existing = mc.status?.conditions ?? [];
  return { ...status, conditions: ready === undefined ? existing : mergeConditions(existing, ready) };
}

export function createReporter(deps: ReporterDeps): ClusterReporter {
  let api: Promise<CustomObjectsApi> | undefined;
  let cached: ManagedClusterObject | undefined;
  const parentApi = async (): Promise<CustomObjectsApi> => {
    api ??= deps.parent().then((p) => p.kubeConfig.makeApiClient(CustomObjectsApi));
    return api.catch((err: unknown) => {
      api = undefined; // try loading the credentials again next time
      throw err;
    });
  };
  const withClassifiedErrors = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      const failure = classifyApiError(err, what);
      if (failure.kind === 'notFound') cached = undefined; // deleted: find it again next time
      throw failure;
    }
  };

  return {
    report: async (input) =>
      withClassifiedErrors('reporting the cluster status', async () => {
        const { status } = input;
        if (status === undefined) throw new ApiFailure('other', 'nothing collected yet');
        const c = await parentApi();
        let mc = cached ?? (await locate(c, input));
        cached = mc;
        if (deps.labelPrefixes.length > 0 && deps.nodes.synced) {
          const aggregated = aggregateNodeLabels(deps.nodes.values(), deps.labelPrefixes, deps.labelThreshold);
          const patch = labelsPatch(mc.metadata?.labels ?? {}, aggregated, deps.labelPrefixes);
          if (patch !== undefined) {
            mc = (await c.patchNamespacedCustomObject(
              { ...where(input.dedicatedNamespace), name: nameOf(mc), body: patch },
              setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
            )) as ManagedClusterObject;
            cached = mc;
            deps.onLabelsPatched?.(patch.metadata.labels);
          }
        }
        const body: ManagedClusterObject = { ...mc, status: { ...statusWithConditions(mc, status) } };
        cached = (await c.replaceNamespacedCustomObjectStatus({
          ...where(input.dedicatedNamespace),
          name: nameOf(mc),
          body,
        })) as ManagedClusterObject;
        return undefined;
      }),
    refresh: async (input) =>
      withClassifiedErrors('re-reading the ManagedCluster', async () => {
        const c = await parentApi();
        cached =
          cached === undefined
            ? await locate(c, input)
            : ((await c.getNamespacedCustomObject({
                ...where(input.dedicatedNamespace),
                name: nameOf(cached),
              })) as ManagedClusterObject);
        return undefined;
      }),
  };
}
