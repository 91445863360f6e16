// The parts of rendered objects the chart tests read.

import type { Manifest } from './helm.ts';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}
export interface Probe {
  httpGet: { path: string; port: string | number; scheme: string };
  periodSeconds?: number;
  failureThreshold?: number;
}
export interface Container {
  name: string;
  image: string;
  imagePullPolicy: string;
  args: string[];
  env: EnvVar[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
}
export interface PodSpec {
  serviceAccountName: string;
  hostNetwork?: boolean;
  affinity?: Record<string, unknown>;
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  priorityClassName?: string;
  imagePullSecrets?: { name: string }[];
  securityContext?: Record<string, unknown>;
  containers: Container[];
}
export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
  verbs: string[];
}

export const podSpec = (deployment: Manifest): PodSpec =>
  (deployment as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;

export function agentContainer(deployment: Manifest): Container {
  const c = podSpec(deployment).containers.find((x) => x.name === 'clusternet-agent');
  if (c === undefined) throw new Error('no clusternet-agent container');
  return c;
}

export const rules = (role: Manifest): PolicyRule[] => (role as unknown as { rules: PolicyRule[] }).rules;

/** The Deployment's container env as the kubelet sees it, given the registration Secret's data. */
export function containerEnv(
  deployment: Manifest,
  secretData: Readonly<Record<string, string>>,
  namespace: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of agentContainer(deployment).env) {
    if (e.value !== undefined) out[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef !== undefined) {
      const v = secretData[e.valueFrom.secretKeyRef.key];
      if (v === undefined) throw new Error(`secret key ${e.valueFrom.secretKeyRef.key} missing`);
      out[e.name] = v;
    } else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') out[e.name] = namespace;
  }
  return out;
}
