// Objects tests put into the clusters: bootstrap tokens and the Clusternet CRDs.

import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiException,
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  loadYaml,
  type KubeConfig,
  type V1CustomResourceDefinition,
  type V1Pod,
} from '@kubernetes/client-node';
import { eventually } from './eventually.ts';

/** Unmodified copies of Clusternet's CRDs (see the README beside them for their provenance). */
export const clusternetCrdDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'clusternet-crds');

export interface BootstrapTokenOptions {
  /** 6 characters [a-z0-9]; random when omitted. */
  readonly id?: string;
  /** 16 characters [a-z0-9]; random when omitted. */
  readonly secret?: string;
  /** Expiry from now; none when omitted. A negative value makes an already expired token. */
  readonly ttlSeconds?: number;
  /** Extra groups, each `system:bootstrappers:...`. */
  readonly extraGroups?: readonly string[];
  readonly description?: string;
}

export interface BootstrapToken {
  readonly id: string;
  readonly secret: string;
  /** `<id>.<secret>`, as passed to `--bootstrap-token`. */
  readonly token: string;
  /** The Secret in kube-system that holds it. */
  readonly secretName: string;
}

const tokenAlphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
function randomTokenPart(length: number): string {
  return [...randomBytes(length)].map((b) => tokenAlphabet[b % tokenAlphabet.length]).join('');
}

export const isNotFound = (err: unknown): boolean => err instanceof ApiException && err.code === 404;
export const isAlreadyExists = (err: unknown): boolean => err instanceof ApiException && err.code === 409;

/** Creates a bootstrap token Secret (`kube-system/bootstrap-token-<id>`) usable for authentication. */
export async function createBootstrapToken(kc: KubeConfig, opts: BootstrapTokenOptions = {}): Promise<BootstrapToken> {
  const id = opts.id ?? randomTokenPart(6);
  const secret = opts.secret ?? randomTokenPart(16);
  if (!/^[a-z0-9]{6}$/.test(id) || !/^[a-z0-9]{16}$/.test(secret)) {
    throw new Error('a bootstrap token is <6 chars [a-z0-9]>.<16 chars [a-z0-9]>');
  }
  const stringData: Record<string, string> = {
    'token-id': id,
    'token-secret': secret,
    'usage-bootstrap-authentication': 'true',
    description: opts.description ?? 'created by the clusternet-agent test environment',
  };
  if (opts.ttlSeconds !== undefined) {
    stringData.expiration = new Date(Date.now() + opts.ttlSeconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  }
  if (opts.extraGroups !== undefined && opts.extraGroups.length > 0) {
    stringData['auth-extra-groups'] = opts.extraGroups.join(',');
  }
  const secretName = `bootstrap-token-${id}`;
  await kc.makeApiClient(CoreV1Api).createNamespacedSecret({
    namespace: 'kube-system',
    body: {
      metadata: { name: secretName, namespace: 'kube-system' },
      type: 'bootstrap.kubernetes.io/token',
      stringData,
    },
  });
  return { id, secret, token: `${id}.${secret}`, secretName };
}

export async function deleteBootstrapToken(kc: KubeConfig, token: BootstrapToken): Promise<void> {
  await kc
    .makeApiClient(CoreV1Api)
    .deleteNamespacedSecret({ name: token.secretName, namespace: 'kube-system' })
    .catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
}

export async function readClusternetCrds(): Promise<V1CustomResourceDefinition[]> {
  const files = (await readdir(clusternetCrdDir)).filter((f) => f.endsWith('.yaml')).sort();
  return Promise.all(
    files.map(async (f) => loadYaml<V1CustomResourceDefinition>(await readFile(join(clusternetCrdDir, f), 'utf8'))),
  );
}

/** Creates (or replaces) every Clusternet CRD and waits until each is Established. */
export async function installClusternetCrds(kc: KubeConfig, timeoutMs = 60_000): Promise<string[]> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const crds = await readClusternetCrds();
  const names: string[] = [];
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    names.push(name);
    try {
      await api.createCustomResourceDefinition({ body: crd });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const live = await api.readCustomResourceDefinition({ name });
      crd.metadata = Object.assign(crd.metadata ?? {}, { resourceVersion: live.metadata?.resourceVersion });
      await api.replaceCustomResourceDefinition({ name, body: crd });
    }
  }
  // Established is not enough: right after it, the resource's storage may still answer 429
  // "storage is (re)initializing". Ready means a LIST of the resource succeeds.
  const objects = kc.makeApiClient(CustomObjectsApi);
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    const version = crd.spec.versions.find((v) => v.served)?.name ?? '';
    await eventually(
      `CRD ${name} to be Established and served`,
      async () => {
        const live = await api.readCustomResourceDefinition({ name });
        if (live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') !== true)
          return undefined;
        await objects.listClusterCustomObject({
          group: crd.spec.group,
          version,
          plural: crd.spec.names.plural,
          limit: 1,
        });
        return true;
      },
      { timeoutMs: Math.max(0, deadline - Date.now()), intervalMs: 100 },
    );
  }
  return names;
}

/**
 * A kube-controller-manager pod as kubeadm runs it (a plain API object here: nothing runs it), whose
 * command line carries the cluster and service CIDRs the heartbeat reads.
 */
export function kubeadmControllerManagerPod(name: string): V1Pod {
  return {
    metadata: { name, labels: { component: 'kube-controller-manager' } },
    spec: {
      automountServiceAccountToken: false,
      containers: [
        {
          name: 'kcm',
          image: 'registry.k8s.io/kube-controller-manager:v1.35.4',
          command: [
            'kube-controller-manager',
            '--cluster-cidr=10.244.0.0/16',
            '--service-cluster-ip-range=10.96.0.0/12',
          ],
        },
      ],
    },
  };
}
