// Pure decisions of the heartbeat lifecycle (spec §4): the ManagedCluster status computed from what was
// collected, the Ready condition and how it merges into the conditions the hub also writes, node-label
// aggregation, and what counts as a change worth reporting before the next period.

export interface ProbeResults {
  readonly healthz: boolean;
  readonly livez: boolean;
  readonly readyz: boolean;
}

export interface VersionInfo {
  readonly gitVersion: string;
  readonly platform: string;
}

export interface NodeStatistics {
  readonly readyNodes?: number;
  readonly notReadyNodes?: number;
  readonly unknownNodes?: number;
  readonly lostNodes?: number;
}

/** Node figures, quantities already summed and canonical (see src/kube/quantity.ts). */
export interface NodeTotals {
  readonly statistics: NodeStatistics;
  readonly capacity: Readonly<Record<string, string>>;
  readonly allocatable: Readonly<Record<string, string>>;
}

export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly lastTransitionTime: string;
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
}

/** `ManagedCluster.status` as the agent writes it (§4.2); optional fields are omitted when unset. */
export interface ClusterStatus {
  readonly lastObservedTime: string;
  readonly k8sVersion?: string;
  readonly agentVersion?: string;
  readonly platform?: string;
  readonly apiserverURL?: string;
  readonly healthz: boolean;
  readonly livez: boolean;
  readonly readyz: boolean;
  readonly appPusher: boolean;
  readonly useSocket?: boolean;
  readonly kubeQPS?: number;
  readonly kubeBurst?: number;
  readonly allocatable?: Readonly<Record<string, string>>;
  readonly capacity?: Readonly<Record<string, string>>;
  readonly clusterCIDR?: string;
  readonly serviceCIDR?: string;
  readonly nodeStatistics: NodeStatistics;
  readonly podStatistics?: { readonly runningPods?: number; readonly totalPods?: number };
  readonly resourceUsage?: { readonly cpuUsage?: string; readonly memoryUsage?: string };
  readonly conditions: readonly Condition[];
  readonly heartbeatFrequencySeconds: number;
  readonly predictorEnabled?: boolean;
  readonly predictorAddress?: string;
  readonly predictorDirectAccess: boolean;
}

/** The predictor fields of the status (spec §4.2, §9.5). */
export interface PredictorFacts {
  readonly enabled: boolean;
  readonly address: string;
  readonly directAccess: boolean;
}

/** Whether this agent serves the built-in predictor: gate Predictor on and no --predictor-addr (spec predictor §1). */
export function servesBuiltInPredictor(gate: boolean, addr: string): boolean {
  return gate && addr === '';
}

/**
 * What the status says about the predictor, as the Go agent publishes it: `predictorEnabled` is the
 * Predictor gate, `predictorAddress` is `--predictor-addr` or, for the built-in predictor,
 * `http://localhost:<--predictor-port>`, `predictorDirectAccess` the flag.
 */
export function predictorFacts(gate: boolean, addr: string, directAccess: boolean, port: number): PredictorFacts {
  const address = servesBuiltInPredictor(gate, addr) ? `http://localhost:${String(port)}` : addr;
  return { enabled: gate, address, directAccess };
}

/** The agent's own, fixed contribution to every status. */
export interface AgentFacts {
  readonly agentVersion: string;
  readonly apiserverUrl: string;
  readonly appPusher: boolean;
  readonly useSocket: boolean;
  readonly kubeQps: number;
  readonly kubeBurst: number;
  readonly heartbeatFrequencySeconds: number;
  readonly predictor: PredictorFacts;
}

/** One collection's findings; `undefined` where a source could not be read. */
export interface Collected {
  /** RFC 3339, whole seconds. */
  readonly observedAt: string;
  readonly version: VersionInfo | undefined;
  readonly probes: ProbeResults;
  readonly nodes: NodeTotals | undefined;
  readonly clusterCidr: string | undefined;
  readonly serviceCidr: string | undefined;
  readonly podStatistics: { readonly runningPods: number; readonly totalPods: number } | undefined;
  readonly resourceUsage: { readonly cpuUsage: string; readonly memoryUsage: string } | undefined;
}

export const readyConditionType = 'Ready';

/** Latest rule (§4.2): ready when livez and readyz, or healthz. */
export function clusterReady(p: ProbeResults): boolean {
  return (p.livez && p.readyz) || p.healthz;
}

export function readyCondition(p: ProbeResults, at: string): Condition {
  return clusterReady(p)
    ? {
        type: readyConditionType,
        status: 'True',
        lastTransitionTime: at,
        reason: 'ManagedClusterReady',
        message: 'managed cluster is ready.',
      }
    : {
        type: readyConditionType,
        status: 'False',
        lastTransitionTime: at,
        reason: 'ManagedClusterNotReady',
        message: 'managed cluster is not ready.',
      };
}

const nonZero = (n: number | undefined): boolean => n !== undefined && n !== 0;
const present = <T>(key: string, v: T | undefined): Record<string, T> => (v === undefined ? {} : { [key]: v });

/** Drops zero counters, as Go's omitempty does. */
function statistics(s: NodeStatistics): NodeStatistics {
  const keys = ['readyNodes', 'notReadyNodes', 'unknownNodes', 'lostNodes'] as const;
  return Object.fromEntries(keys.filter((k) => nonZero(s[k])).map((k) => [k, s[k]]));
}

/** The status to report for one collection (conditions: the agent's Ready condition only; see mergeConditions). */
export function computeClusterStatus(c: Collected, agent: AgentFacts): ClusterStatus {
  const emptyIfBlank = (s: string): string | undefined => (s === '' ? undefined : s);
  return {
    lastObservedTime: c.observedAt,
    ...present('k8sVersion', c.version === undefined ? undefined : emptyIfBlank(c.version.gitVersion)),
    ...present('agentVersion', emptyIfBlank(agent.agentVersion)),
    ...present('platform', c.version === undefined ? undefined : emptyIfBlank(c.version.platform)),
    ...present('apiserverURL', emptyIfBlank(agent.apiserverUrl)),
    healthz: c.probes.healthz,
    livez: c.probes.livez,
    readyz: c.probes.readyz,
    appPusher: agent.appPusher,
    ...present('useSocket', agent.useSocket ? true : undefined),
    ...present('kubeQPS', agent.kubeQps === 0 ? undefined : agent.kubeQps),
    ...present('kubeBurst', agent.kubeBurst === 0 ? undefined : agent.kubeBurst),
    ...present('allocatable', c.nodes?.allocatable),
    ...present('capacity', c.nodes?.capacity),
    ...present('clusterCIDR', c.clusterCidr),
    ...present('serviceCIDR', c.serviceCidr),
    nodeStatistics: statistics(c.nodes?.statistics ?? {}),
    ...present(
      'podStatistics',
      c.podStatistics === undefined
        ? undefined
        : {
            ...present('runningPods', nonZero(c.podStatistics.runningPods) ? c.podStatistics.runningPods : undefined),
            ...present('totalPods', nonZero(c.podStatistics.totalPods) ? c.podStatistics.totalPods : undefined),
          },
    ),
    ...present('resourceUsage', c.resourceUsage),
    conditions: [readyCondition(c.probes, c.observedAt)],
    heartbeatFrequencySeconds: agent.heartbeatFrequencySeconds,
    ...present('predictorEnabled', agent.predictor.enabled ? true : undefined),
    ...present('predictorAddress', emptyIfBlank(agent.predictor.address)),
    predictorDirectAccess: agent.predictor.directAccess,
  };
}

/**
 * The conditions to write (§4.3, latest): the hub's conditions kept; the agent's condition appended
 * when absent, replaced when its status, reason or message changed (transition time moves only when
 * the status changed), and otherwise kept with the new time, which serves as a heartbeat.
 */
export function mergeConditions(existing: readonly Condition[], next: Condition): Condition[] {
  const index = existing.findIndex((c) => c.type === next.type);
  const current = existing[index];
  if (current === undefined) return [...existing, next];
  const merged: Condition =
    current.status !== next.status
      ? next
      : current.reason !== next.reason || current.message !== next.message
        ? { ...next, lastTransitionTime: current.lastTransitionTime }
        : { ...current, lastTransitionTime: next.lastTransitionTime };
  return existing.map((c, i) => (i === index ? merged : c));
}

/** A node as label aggregation needs it. */
export interface NodeLabels {
  readonly controlPlane: boolean;
  /** Only the labels whose keys start with an aggregation prefix. */
  readonly labels: Readonly<Record<string, string>>;
}

export const controlPlaneRoleLabels = ['node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master'];

const hasPrefix = (key: string, prefixes: readonly string[]): boolean => prefixes.some((p) => key.startsWith(p));

/**
 * Node-label aggregation (§4.3): among worker nodes, for each eligible key its most frequent value,
 * kept when its share of the worker nodes reaches the threshold.
 */
export function aggregateNodeLabels(
  nodes: Iterable<NodeLabels>,
  prefixes: readonly string[],
  threshold: number,
): Record<string, string> {
  const counts = new Map<string, Map<string, number>>();
  let workers = 0;
  for (const node of nodes) {
    if (node.controlPlane) continue;
    workers++;
    for (const [key, value] of Object.entries(node.labels)) {
      if (!hasPrefix(key, prefixes)) continue;
      const values = counts.get(key) ?? new Map<string, number>();
      values.set(value, (values.get(value) ?? 0) + 1);
      counts.set(key, values);
    }
  }
  const result: Record<string, string> = {};
  if (workers === 0) return result;
  for (const key of [...counts.keys()].sort()) {
    let best: [string, number] | undefined;
    for (const [value, count] of counts.get(key) ?? []) {
      // Ties go to the smaller value, so the choice does not depend on the order nodes were seen in.
      if (best === undefined || count > best[1] || (count === best[1] && value < best[0])) best = [value, count];
    }
    if (best !== undefined && best[1] / workers >= threshold) result[key] = best[0];
  }
  return result;
}

/**
 * The label merge patch for the ManagedCluster (§4.3): labels under the aggregation prefixes are
 * replaced by the aggregated ones; undefined when nothing changes.
 */
export function labelsPatch(
  current: Readonly<Record<string, string>>,
  aggregated: Readonly<Record<string, string>>,
  prefixes: readonly string[],
): { metadata: { labels: Record<string, string | null> } } | undefined {
  const labels: Record<string, string | null> = {};
  for (const key of Object.keys(current)) {
    if (hasPrefix(key, prefixes) && !(key in aggregated)) labels[key] = null;
  }
  for (const [key, value] of Object.entries(aggregated)) {
    if (current[key] !== value) labels[key] = value;
  }
  return Object.keys(labels).length === 0 ? undefined : { metadata: { labels } };
}

/**
 * Why this status should be reported now rather than at the next period, or undefined: a probe
 * flipped, readiness changed, or the node counts moved.
 */
export function significantChange(reported: ClusterStatus | undefined, next: ClusterStatus): string | undefined {
  if (reported === undefined) return 'first collection';
  for (const probe of ['healthz', 'livez', 'readyz'] as const) {
    if (reported[probe] !== next[probe]) return `${probe} is now ${String(next[probe])}`;
  }
  const ready = (s: ClusterStatus): string | undefined =>
    s.conditions.find((c) => c.type === readyConditionType)?.status;
  if (ready(reported) !== ready(next)) return `Ready is now ${ready(next) ?? 'absent'}`;
  const stats = (s: ClusterStatus): string => {
    const n = s.nodeStatistics;
    return `ready ${String(n.readyNodes ?? 0)}, not ready ${String(n.notReadyNodes ?? 0)}, unknown ${String(n.unknownNodes ?? 0)}, lost ${String(n.lostNodes ?? 0)}`;
  };
  if (stats(reported) !== stats(next)) return `nodes: ${stats(next)}`;
  if (reported.k8sVersion !== next.k8sVersion) return `Kubernetes version is now ${next.k8sVersion ?? 'unknown'}`;
  return undefined;
}
