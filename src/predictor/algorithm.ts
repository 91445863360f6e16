// The built-in predictor's decision (spec predictor §3, default plugins): how many more replicas of a
// pod with the given requirements the cluster can take. Pure: nodes and the requests already placed on
// them come in, a number or the "no feasible nodes" error goes out.
//
// Deliberate differences from the Go predictor (docs/predictor.md lists them):
// - a pod's requests follow the kube-scheduler's per-pod rule (containers summed, then the max with
//   each init container, restartable init containers added as sidecars, plus overhead); Go takes the
//   init-container max against the running total of all pods counted so far, so its answer depends
//   on the cache's iteration order;
// - an over-committed node (its pods request more than it has, or a scalar it lacks) can take 0 more
//   replicas; Go fails the whole request with 500;
// - a node with no scalar resources at all is counted like any other; Go crashes the process there;
// - the sum is capped at 2^31−1 rather than wrapping.

import { emptyAmounts, mergeAmounts, storedAmounts, type Amounts } from './resources.ts';

export const MAX_REPLICAS = 2 ** 31 - 1;

export interface Taint {
  readonly key: string;
  readonly value: string;
  readonly effect: string;
}

export interface Toleration {
  readonly key?: string | undefined;
  readonly operator?: string | undefined;
  readonly value?: string | undefined;
  readonly effect?: string | undefined;
}

/** A node as the predictor sees it. */
export interface PredictorNode {
  readonly labels: Readonly<Record<string, string>>;
  /** Only the NoSchedule and NoExecute taints: the others never filter. */
  readonly taints: readonly Taint[];
  readonly allocatable: Amounts;
}

/** What a request asks for (spec predictor §2.1; affinity, limits and claims are ignored). */
export interface Requirements {
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly Toleration[];
  /** Requests as counted; `pods` and unknown names already dropped by decoding. */
  readonly requests: Amounts;
}

export type Prediction =
  { readonly ok: true; readonly replicas: number } | { readonly ok: false; readonly message: string };

/** k8s.io/api Toleration.ToleratesTaint. */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if ((t.effect ?? '') !== '' && t.effect !== taint.effect) return false;
  if ((t.key ?? '') !== '' && t.key !== taint.key) return false;
  switch (t.operator ?? '') {
    case '':
    case 'Equal':
      return (t.value ?? '') === taint.value;
    case 'Exists':
      return true;
    default:
      return false;
  }
}

/** Whether the node's labels contain every pair of the selector. */
export function selects(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  return selectsAll(Object.entries(selector), labels);
}

function selectsAll(pairs: readonly (readonly [string, string])[], labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of pairs) if (!Object.hasOwn(labels, k) || labels[k] !== v) return false;
  return true;
}

/** TaintToleration's filter: every NoSchedule/NoExecute taint is tolerated by some toleration. */
export function passesTaints(taints: readonly Taint[], tolerations: readonly Toleration[]): boolean {
  return taints.every(
    (taint) =>
      (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') || tolerations.some((t) => tolerates(t, taint)),
  );
}

/** The parts of a container the pod's requests are made of. */
export interface ContainerLike {
  readonly resources?: { readonly requests?: Readonly<Record<string, string>> | undefined } | undefined;
  readonly restartPolicy?: string | undefined;
}

/** The parts of a pod the predictor reads. */
export interface PodLike {
  readonly spec?:
    | {
        readonly nodeName?: string | undefined;
        readonly containers?: readonly ContainerLike[] | undefined;
        readonly initContainers?: readonly ContainerLike[] | undefined;
        readonly overhead?: Readonly<Record<string, string>> | undefined;
      }
    | undefined;
  readonly status?: { readonly phase?: string | undefined } | undefined;
}

/**
 * What a pod takes from its node, or undefined when it takes nothing: not bound, or finished
 * (Succeeded/Failed). Pending, Running, Unknown and terminating pods count, as in Go. The requests
 * are the kube-scheduler's: app containers and sidecars summed, each other init container maxed in
 * (on top of the sidecars started before it), plus the overhead; `pods` is 1.
 */
export function podUsage(pod: PodLike): { readonly node: string; readonly usage: Amounts } | undefined {
  const node = pod.spec?.nodeName ?? '';
  const phase = pod.status?.phase;
  if (node === '' || phase === 'Succeeded' || phase === 'Failed') return undefined;
  const usage = emptyAmounts();
  for (const c of pod.spec?.containers ?? [])
    mergeAmounts(usage, storedAmounts(c.resources?.requests, false), (a, b) => a + b);
  const sidecars = emptyAmounts();
  const initMax = emptyAmounts();
  for (const c of pod.spec?.initContainers ?? []) {
    const r = storedAmounts(c.resources?.requests, false);
    if (c.restartPolicy === 'Always') {
      mergeAmounts(usage, r, (a, b) => a + b);
      mergeAmounts(sidecars, r, (a, b) => a + b);
    } else {
      mergeAmounts(r, sidecars, (a, b) => a + b);
      mergeAmounts(initMax, r, Math.max);
    }
  }
  mergeAmounts(usage, initMax, Math.max);
  mergeAmounts(usage, storedAmounts(pod.spec?.overhead, false), (a, b) => a + b);
  usage.pods = 1;
  return { node, usage };
}

/** ⌊free / want⌋ with free below 0 counted as 0. */
const fits = (have: number, used: number, want: number): number => Math.floor(Math.max(0, have - used) / want);

/**
 * How many replicas one node can still take: its free pod slots, and ⌊free/request⌋ for every
 * requested resource (a scalar it lacks gives 0). Free amounts below 0 count as 0.
 */
export function nodeReplicas(allocatable: Amounts, used: Amounts | undefined, requests: Amounts): number {
  let n = Math.min(MAX_REPLICAS, Math.max(0, allocatable.pods - (used?.pods ?? 0)));
  if (requests.cpu > 0) n = Math.min(n, fits(allocatable.cpu, used?.cpu ?? 0, requests.cpu));
  if (requests.memory > 0) n = Math.min(n, fits(allocatable.memory, used?.memory ?? 0, requests.memory));
  if (requests.ephemeralStorage > 0)
    n = Math.min(n, fits(allocatable.ephemeralStorage, used?.ephemeralStorage ?? 0, requests.ephemeralStorage));
  if (requests.scalars !== undefined) {
    for (const [name, want] of requests.scalars) {
      if (want > 0) n = Math.min(n, fits(allocatable.scalars?.get(name) ?? 0, used?.scalars?.get(name) ?? 0, want));
    }
  }
  return n;
}

export const noFeasibleNodes = 'no feasible nodes found';

/**
 * MaxAcceptableReplicas with the default plugins: select by nodeSelector, filter by taints, sum what
 * each remaining node can take. `used` gives the requests already on a node (absent: nothing).
 */
export function predict(
  nodes: Iterable<PredictorNode & { readonly name: string }>,
  used: (node: string) => Amounts | undefined,
  req: Requirements,
): Prediction {
  let feasible = 0;
  let total = 0;
  const selector = Object.entries(req.nodeSelector);
  for (const node of nodes) {
    if (!selectsAll(selector, node.labels)) continue;
    if (node.taints.length > 0 && !passesTaints(node.taints, req.tolerations)) continue;
    feasible++;
    total = Math.min(MAX_REPLICAS, total + nodeReplicas(node.allocatable, used(node.name), req.requests));
  }
  return feasible === 0 ? { ok: false, message: noFeasibleNodes } : { ok: true, replicas: total };
}
