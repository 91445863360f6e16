// The wire format of registration (spec §2, §3.2, §3.5): the ClusterRegistrationRequest the agent
// creates, the view the statechart gets of it, and the credentials an approved one carries. The
// `parent-cluster` Secret they are stored in is src/parent/credentials-secret.ts.

import type { RequestView } from '../../machines/registration/machine.ts';
import type { ClusterType, SyncMode } from '../config/config.ts';
import { clustersGroup, labels } from '../parent/clusters-api.ts';
import type { DedicatedCredentials } from '../parent/credentials-secret.ts';

export const crrGroup = clustersGroup;
export const crrVersion = 'v1beta1';
export const crrPlural = 'clusterregistrationrequests';

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
    carriesCredentials: approvedCredentials(crr) !== undefined,
  };
}

export function approvedCredentials(crr: RequestObject): DedicatedCredentials | undefined {
  const s = crr.status;
  if (s?.result !== 'Approved' || s.token === undefined || s.token === '') return undefined;
  const ca = s.caCertificate === undefined ? undefined : Buffer.from(s.caCertificate, 'base64').toString('utf8');
  return { token: Buffer.from(s.token, 'base64').toString('utf8'), caPem: ca };
}
