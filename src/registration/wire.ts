// The wire format of registration (spec §2, §3.2, §3.5): the ClusterRegistrationRequest the agent
// creates, the view the statechart gets of it, and the `parent-cluster` Secret in the child.

import type { V1Secret } from '@kubernetes/client-node';
import type { RequestView } from '../../machines/registration/machine.ts';
import type { StoredCredentialsView } from '../../machines/registration/decisions.ts';
import type { ClusterType, SyncMode } from '../config/config.ts';

export const crrGroup = 'clusters.clusternet.io';
export const crrVersion = 'v1beta1';
export const crrPlural = 'clusterregistrationrequests';
export const labels = {
  registeredBy: 'clusters.clusternet.io/registered-by',
  clusterId: 'clusters.clusternet.io/cluster-id',
  clusterName: 'clusters.clusternet.io/cluster-name',
  bootstrapping: 'clusters.clusternet.io/bootstrapping',
} as const;
export const parentCredentialsSecret = 'parent-cluster';
export const secretKeys = {
  ca: 'ca.crt',
  token: 'token',
  namespace: 'namespace',
  parentUrl: 'apiserver-advertise-url',
} as const;

export const requestName = (clusterId: string): string => `clusternet-${clusterId}`;

export interface RequestSpecInput {
  readonly clusterId: string;
  readonly clusterName: string;
  readonly clusterType: ClusterType;
  readonly syncMode: SyncMode;
  readonly clusterNamespace: string | undefined;
  readonly clusterLabels: Readonly<Record<string, string>>;
}

/** The CRR exactly as the Go agent POSTs it. */
export function buildRequest(i: RequestSpecInput): Record<string, unknown> {
  return {
    apiVersion: `${crrGroup}/${crrVersion}`,
    kind: 'ClusterRegistrationRequest',
    metadata: {
      name: requestName(i.clusterId),
      labels: {
        [labels.registeredBy]: 'clusternet-agent',
        [labels.clusterId]: i.clusterId,
        [labels.clusterName]: i.clusterName,
      },
    },
    spec: {
      clusterId: i.clusterId,
      clusterType: i.clusterType,
      clusterName: i.clusterName,
      ...(i.clusterNamespace === undefined ? {} : { clusterNamespace: i.clusterNamespace }),
      syncMode: i.syncMode,
      ...(Object.keys(i.clusterLabels).length === 0 ? {} : { clusterLabels: { ...i.clusterLabels } }),
    },
  };
}

/** The parts of a CRR status the agent uses; token and CA are base64 on the wire (Go []byte). */
export interface RequestObject {
  readonly metadata?: { readonly labels?: Readonly<Record<string, string>> };
  readonly status?: {
    readonly result?: string;
    readonly errorMessage?: string;
    readonly dedicatedNamespace?: string;
    readonly managedClusterName?: string;
    readonly token?: string;
    readonly caCertificate?: string;
  };
}

export function requestView(crr: RequestObject): RequestView {
  const s = crr.status ?? {};
  const result = s.result === 'Approved' || s.result === 'Denied' || s.result === 'Failed' ? s.result : undefined;
  return {
    result,
    errorMessage: s.errorMessage === '' ? undefined : s.errorMessage,
    clusterName: crr.metadata?.labels?.[labels.clusterName],
    dedicatedNamespace: s.dedicatedNamespace === '' ? undefined : s.dedicatedNamespace,
    managedClusterName: s.managedClusterName === '' ? undefined : s.managedClusterName,
  };
}

/** Dedicated credentials: kept in src/, never in a machine's context. */
export interface DedicatedCredentials {
  readonly token: string;
  /**
   * PEM. As with the Go agent (spec §3.1): undefined when the parent sent none (TLS is not verified);
   * empty when the CA is there but empty (TLS is verified against the system roots).
   */
  readonly caPem: string | undefined;
}

export function approvedCredentials(crr: RequestObject): DedicatedCredentials | undefined {
  const s = crr.status;
  if (s?.result !== 'Approved' || s.token === undefined || s.token === '') return undefined;
  const ca = s.caCertificate === undefined ? undefined : Buffer.from(s.caCertificate, 'base64').toString('utf8');
  return { token: Buffer.from(s.token, 'base64').toString('utf8'), caPem: ca };
}

const decode = (secret: V1Secret, key: string): string | undefined => {
  const v = secret.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
};

export function storedView(secret: V1Secret): StoredCredentialsView {
  return {
    parentUrl: decode(secret, secretKeys.parentUrl),
    hasToken: (decode(secret, secretKeys.token) ?? '') !== '',
    hasCa: (decode(secret, secretKeys.ca) ?? '') !== '',
    namespace: decode(secret, secretKeys.namespace),
  };
}

export function storedCredentials(secret: V1Secret): DedicatedCredentials | undefined {
  const token = decode(secret, secretKeys.token);
  if (token === undefined || token === '') return undefined;
  // A `ca.crt` key that is present but empty means the system roots, not "skip verification".
  return { token, caPem: decode(secret, secretKeys.ca) };
}

export interface SecretInput {
  readonly namespace: string;
  readonly clusterId: string;
  readonly clusterName: string | undefined;
  readonly dedicatedNamespace: string;
  /** `--cluster-reg-parent-url` as given: the Go agent compares it byte for byte. */
  readonly parentUrl: string;
  readonly credentials: DedicatedCredentials;
}

/** The `parent-cluster` Secret, as the Go agent writes it (a Go agent can take over from us and back). */
export function buildCredentialsSecret(i: SecretInput): V1Secret {
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: parentCredentialsSecret,
      namespace: i.namespace,
      labels: {
        [labels.bootstrapping]: 'credentials-auto',
        [labels.clusterId]: i.clusterId,
        [labels.clusterName]: i.clusterName ?? '',
      },
    },
    data: {
      [secretKeys.ca]: b64(i.credentials.caPem ?? ''),
      [secretKeys.token]: b64(i.credentials.token),
      [secretKeys.namespace]: b64(i.dedicatedNamespace),
      [secretKeys.parentUrl]: b64(i.parentUrl),
    },
  };
}
