// The `parent-cluster` Secret in the child (spec §3.2, §3.5): the dedicated credentials registration
// stores there and every registered component reads, exactly as the Go agent writes them (a Go agent
// can take over from us and back).

import type { V1Secret } from '@kubernetes/client-node';
import type { StoredCredentialsView } from '../../machines/registration/decisions.ts';
import { labels } from './clusters-api.ts';

export const parentCredentialsSecret = 'parent-cluster';
export const secretKeys = {
  ca: 'ca.crt',
  token: 'token',
  namespace: 'namespace',
  parentUrl: 'apiserver-advertise-url',
} as const;

/** Dedicated credentials: kept in src/, never in a machine's context. */
export interface DedicatedCredentials {
  readonly token: string;
  /**
   * PEM. As with the Go agent (spec §3.1): undefined when the parent sent none (TLS is not verified);
   * empty when the CA is there but empty (TLS is verified against the system roots).
   */
  readonly caPem: string | undefined;
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
