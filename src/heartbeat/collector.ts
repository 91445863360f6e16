// One collection of the child's status (spec §4.2): version, health probes, node figures from the
// node store, CIDRs from the control-plane pods, and metrics-server figures when enabled. A source
// that cannot be read leaves its fields out (probes read as false); a collection itself never fails.

import type { KubeConfig } from '@kubernetes/client-node';
import { CoreV1Api, CustomObjectsApi } from '../kube/client-node.ts';
import {
  computeClusterStatus,
  type AgentFacts,
  type ClusterStatus,
  type Collected,
  type VersionInfo,
} from '../../machines/heartbeat/decisions.ts';
import { rfc3339Seconds } from '../kube/meta-time.ts';
import { formatQuantity, parseQuantity, sumQuantities, type Quantity } from '../kube/quantity.ts';
import { rawRequest } from '../kube/raw-request.ts';
import type { RequestLimiter } from '../kube/request-limiter.ts';
import { readCidrs, type Cidrs } from './network.ts';
import { nodeTotals, type NodeStore } from './nodes.ts';

export interface CollectorDeps {
  readonly child: KubeConfig;
  readonly nodes: NodeStore;
  readonly facts: AgentFacts;
  readonly useMetricsServer: boolean;
  /** CLUSTER_CIDR / SERVICE_CIDR from the environment. */
  readonly cidrEnv: Partial<Cidrs>;
  readonly now: () => number;
  readonly probeTimeoutMs?: number;
  /** How often the control-plane pods are listed again for the CIDRs (default 5 min). */
  readonly cidrRefreshMs?: number;
  /** Called once per source that failed, with what failed. */
  readonly onSourceFailed?: (source: string, err: unknown) => void;
  /** Every request to the child waits for it (--kube-api-qps / --kube-api-burst). */
  readonly limiter?: RequestLimiter;
}

/** Health and version answers are tiny; anything bigger is refused rather than read. */
const probeBodyBytes = 64 * 1024;

interface MetricsItem {
  readonly containers?: readonly unknown[];
  readonly usage?: Readonly<Record<string, string>>;
}

const safeQuantity = (v: string | undefined): Quantity[] => {
  if (v === undefined) return [];
  try {
    return [parseQuantity(v)];
  } catch {
    return [];
  }
};

/** The metrics-server figures (pods running, node usage), each one list of metrics.k8s.io. */
function metricsReaders(custom: CustomObjectsApi, limiter: CollectorDeps['limiter']) {
  const listMetrics = async (plural: 'pods' | 'nodes'): Promise<MetricsItem[]> => {
    await limiter?.wait();
    const list = (await custom.listClusterCustomObject({ group: 'metrics.k8s.io', version: 'v1beta1', plural })) as {
      items?: MetricsItem[];
    };
    return list.items ?? [];
  };
  const podStatistics = async (): Promise<Collected['podStatistics']> => {
    const items = await listMetrics('pods');
    return { totalPods: items.length, runningPods: items.filter((i) => (i.containers?.length ?? 0) > 0).length };
  };
  const resourceUsage = async (): Promise<Collected['resourceUsage']> => {
    const items = await listMetrics('nodes');
    return {
      cpuUsage: formatQuantity(sumQuantities(items.flatMap((i) => safeQuantity(i.usage?.cpu)))),
      memoryUsage: formatQuantity(sumQuantities(items.flatMap((i) => safeQuantity(i.usage?.memory)))),
    };
  };

  return { podStatistics, resourceUsage };
}

/**
 * The CIDRs come from pod command lines that practically never change, and listing pods by label
 * costs the apiserver a scan of every pod: read them on the first collection and then every
 * cidrRefreshMs (the Go agent reads its local pod cache every time).
 */
function cidrReader(core: CoreV1Api, deps: CollectorDeps): () => Promise<Cidrs | undefined> {
  let cachedCidrs: { value: Cidrs; at: number } | undefined;
  return async () => {
    const t = deps.now();
    if (cachedCidrs !== undefined && t - cachedCidrs.at < (deps.cidrRefreshMs ?? 300_000)) return cachedCidrs.value;
    try {
      cachedCidrs = { value: await readCidrs(core, deps.cidrEnv, deps.limiter), at: t };
      return cachedCidrs.value;
    } catch (err) {
      deps.onSourceFailed?.('control-plane pods', err);
      return cachedCidrs?.value;
    }
  };
}

export function createCollector(deps: CollectorDeps): () => Promise<ClusterStatus> {
  const { child, nodes, facts, limiter } = deps;
  const timeout = deps.probeTimeoutMs ?? 5000;
  const core = child.makeApiClient(CoreV1Api);
  const custom = child.makeApiClient(CustomObjectsApi);
  const failed = (source: string) => (err: unknown) => {
    deps.onSourceFailed?.(source, err);
    return undefined;
  };

  const probe = async (path: string): Promise<boolean> =>
    rawRequest(child, { method: 'GET', path, timeoutMs: timeout, maxBodyBytes: probeBodyBytes, limiter }).then(
      (a) => a.status === 200,
      (err: unknown) => {
        deps.onSourceFailed?.(path, err);
        return false;
      },
    );
  const version = async (): Promise<VersionInfo | undefined> => {
    const a = await rawRequest(child, {
      method: 'GET',
      path: '/version',
      timeoutMs: timeout,
      maxBodyBytes: probeBodyBytes,
      limiter,
    });
    if (a.status !== 200) throw new Error(`GET /version: HTTP ${String(a.status)}`);
    const v = JSON.parse(a.body) as { gitVersion?: unknown; platform?: unknown };
    return {
      gitVersion: typeof v.gitVersion === 'string' ? v.gitVersion : '',
      platform: typeof v.platform === 'string' ? v.platform : '',
    };
  };
  const { podStatistics, resourceUsage } = metricsReaders(custom, limiter);
  const cidrs = cidrReader(core, deps);

  return async () => {
    const [v, healthz, livez, readyz, found, pods, usage] = await Promise.all([
      version().catch(failed('/version')),
      probe('/healthz'),
      probe('/livez'),
      probe('/readyz'),
      cidrs(),
      deps.useMetricsServer ? podStatistics().catch(failed('pod metrics')) : undefined,
      deps.useMetricsServer ? resourceUsage().catch(failed('node metrics')) : undefined,
    ]);
    const collected: Collected = {
      observedAt: rfc3339Seconds(deps.now()),
      version: v,
      probes: { healthz, livez, readyz },
      nodes: nodes.synced ? nodeTotals(nodes.values()) : undefined,
      clusterCidr: found?.clusterCidr ?? deps.cidrEnv.clusterCidr,
      serviceCidr: found?.serviceCidr ?? deps.cidrEnv.serviceCidr,
      podStatistics: pods,
      resourceUsage: usage,
    };
    return computeClusterStatus(collected, facts);
  };
}
