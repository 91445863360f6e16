// Kubeconfig files for the test clusters. Written as JSON (a subset of YAML every kubeconfig reader
// accepts) with the certificates embedded, so they work from any directory and for any client.

import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';

export type KubeconfigUser =
  | { readonly kind: 'certificate'; readonly certFile: string; readonly keyFile: string }
  | { readonly kind: 'token'; readonly token: string };

export interface KubeconfigSpec {
  /** Used as the cluster, user and context name. */
  readonly name: string;
  readonly server: string;
  readonly caFile: string;
  readonly user: KubeconfigUser;
}

export interface Kubeconfig {
  readonly apiVersion: 'v1';
  readonly kind: 'Config';
  readonly clusters: readonly { name: string; cluster: Record<string, string> }[];
  readonly users: readonly { name: string; user: Record<string, string> }[];
  readonly contexts: readonly { name: string; context: { cluster: string; user: string } }[];
  readonly 'current-context': string;
}

const base64File = (path: string): string => readFileSync(path).toString('base64');

export function renderKubeconfig(spec: KubeconfigSpec): Kubeconfig {
  const user: Record<string, string> =
    spec.user.kind === 'token'
      ? { token: spec.user.token }
      : {
          'client-certificate-data': base64File(spec.user.certFile),
          'client-key-data': base64File(spec.user.keyFile),
        };
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: spec.name, cluster: { server: spec.server, 'certificate-authority-data': base64File(spec.caFile) } },
    ],
    users: [{ name: spec.name, user }],
    contexts: [{ name: spec.name, context: { cluster: spec.name, user: spec.name } }],
    'current-context': spec.name,
  };
}

export async function writeKubeconfig(path: string, spec: KubeconfigSpec): Promise<void> {
  await writeFile(path, `${JSON.stringify(renderKubeconfig(spec), null, 2)}\n`, { mode: 0o600 });
}
