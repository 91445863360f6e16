// The child's pod and service CIDRs (spec §4.2, latest rules): read from the command lines of its
// control-plane pods, found by label; the CLUSTER_CIDR / SERVICE_CIDR environment as fallbacks.
// Only the few labelled pods are listed, never all pods.

import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import type { RequestLimiter } from '../kube/request-limiter.ts';

export interface PodCommandLine {
  readonly labels: Readonly<Record<string, string>>;
  /** Every container's command and args, in order. */
  readonly args: readonly string[];
}

export interface Cidrs {
  readonly clusterCidr: string | undefined;
  readonly serviceCidr: string | undefined;
}

/** The label selectors listed; between them they cover every rule below. */
export const controlPlaneSelectors = [
  'component in (kube-apiserver,kube-controller-manager)',
  'app.kubernetes.io/component in (kube-apiserver,kube-controller-manager)',
  'k8s-app=kube-proxy',
];

/** The value of `flag` in an argument, or in a space-separated piece of one (`sh -c "…"`). */
export function flagValue(args: readonly string[], flag: string): string | undefined {
  for (const arg of args) {
    for (const piece of arg.startsWith(flag) ? [arg] : arg.split(' ')) {
      if (!piece.startsWith(flag)) continue;
      const value = piece.split('=')[1];
      if (value !== undefined && value !== '') return value;
    }
  }
  return undefined;
}

const byLabel = (pods: readonly PodCommandLine[], key: string, value: string): PodCommandLine[] =>
  pods.filter((p) => p.labels[key] === value);

function firstValue(pods: readonly PodCommandLine[], rules: readonly [string, string][], flag: string) {
  for (const [key, value] of rules) {
    for (const pod of byLabel(pods, key, value)) {
      const v = flagValue(pod.args, flag);
      if (v !== undefined) return v;
    }
  }
  return undefined;
}

export function discoverCidrs(pods: readonly PodCommandLine[], env: Partial<Cidrs>): Cidrs {
  const clusterCidr = firstValue(
    pods,
    [
      ['component', 'kube-controller-manager'],
      ['app.kubernetes.io/component', 'kube-controller-manager'],
      ['k8s-app', 'kube-proxy'],
    ],
    '--cluster-cidr',
  );
  const serviceCidr = firstValue(
    pods,
    [
      ['component', 'kube-apiserver'],
      ['app.kubernetes.io/component', 'kube-apiserver'],
      ['component', 'kube-controller-manager'],
      ['app.kubernetes.io/component', 'kube-controller-manager'],
    ],
    '--service-cluster-ip-range',
  );
  const orEnv = (v: string | undefined, e: string | undefined): string | undefined =>
    v ?? (e === undefined || e === '' ? undefined : e);
  return { clusterCidr: orEnv(clusterCidr, env.clusterCidr), serviceCidr: orEnv(serviceCidr, env.serviceCidr) };
}

export function podCommandLine(pod: V1Pod): PodCommandLine {
  return {
    labels: pod.metadata?.labels ?? {},
    args: (pod.spec?.containers ?? []).flatMap((c) => [...(c.command ?? []), ...(c.args ?? [])]),
  };
}

/** Lists the control-plane pods (one request per selector) and reads their CIDRs. */
export async function readCidrs(core: CoreV1Api, env: Partial<Cidrs>, limiter?: RequestLimiter): Promise<Cidrs> {
  const lists = await Promise.all(
    controlPlaneSelectors.map(async (labelSelector) => {
      await limiter?.wait();
      return core.listPodForAllNamespaces({ labelSelector });
    }),
  );
  return discoverCidrs(
    lists.flatMap((l) => l.items.map(podCommandLine)),
    env,
  );
}
