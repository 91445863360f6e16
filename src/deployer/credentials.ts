// The app-deployer identity (spec §7.1.1) — every write to the child is made with it, not with the
// agent's own ServiceAccount — and its publication to the parent as Secret child-cluster-deployer
// (§7.1.2), which the controller-manager uses to push and to prune.

import type { V1Secret } from '@kubernetes/client-node';
import { CoreV1Api, KubeConfig } from '../kube/client-node.ts';
import { classifyApiError } from '../kube/errors.ts';

export const appDeployerName = 'clusternet-app-deployer';
export const deployerSecretName = 'child-cluster-deployer';

export interface AppDeployer {
  readonly token: string;
  readonly caCrt: string;
  readonly serviceAccountName: string;
  readonly serviceAccountUid: string;
}

const text = (secret: V1Secret, key: string): string =>
  Buffer.from(secret.data?.[key] ?? '', 'base64').toString('utf8');

/**
 * Secret `<system ns>/clusternet-app-deployer` (children ≥ 1.24, where the chart creates a token
 * secret), else the first secret of the ServiceAccount of that name (older children).
 */
export async function readAppDeployer(child: KubeConfig, systemNamespace: string): Promise<AppDeployer> {
  const core = child.makeApiClient(CoreV1Api);
  let secret: V1Secret | undefined = await core
    .readNamespacedSecret({ name: appDeployerName, namespace: systemNamespace })
    .catch((err: unknown) => {
      const failure = classifyApiError(err, `reading Secret ${systemNamespace}/${appDeployerName}`);
      if (failure.kind === 'notFound') return undefined;
      throw failure;
    });
  if (secret === undefined) {
    const sa = await core
      .readNamespacedServiceAccount({ name: appDeployerName, namespace: systemNamespace })
      .catch((e: unknown) => {
        throw classifyApiError(e, `reading ServiceAccount ${systemNamespace}/${appDeployerName}`);
      });
    const name = sa.secrets?.[0]?.name;
    if (name === undefined) throw new Error(`ServiceAccount ${systemNamespace}/${appDeployerName} has no secret yet`);
    secret = await core.readNamespacedSecret({ name, namespace: systemNamespace }).catch((e: unknown) => {
      throw classifyApiError(e, `reading Secret ${systemNamespace}/${name}`);
    });
  }
  const token = text(secret, 'token');
  if (token === '')
    throw new Error(`the app-deployer secret ${systemNamespace}/${secret.metadata?.name ?? ''} has no token yet`);
  return {
    token,
    caCrt: text(secret, 'ca.crt'),
    serviceAccountName: secret.metadata?.annotations?.['kubernetes.io/service-account.name'] ?? '',
    serviceAccountUid: secret.metadata?.annotations?.['kubernetes.io/service-account.uid'] ?? '',
  };
}

/**
 * A client configuration for the child with the app-deployer token (TLS verified against its ca.crt),
 * through the proxy the agent's own child configuration uses (`proxyUrl`, from HTTPS_PROXY/NO_PROXY).
 */
export function appDeployerKubeConfig(childUrl: string, d: AppDeployer, proxyUrl?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'child',
        server: childUrl,
        ...(d.caCrt === '' ? {} : { caData: Buffer.from(d.caCrt).toString('base64') }),
        ...(proxyUrl === undefined || proxyUrl === '' ? {} : { proxyUrl }),
        skipTLSVerify: false,
      },
    ],
    users: [{ name: 'clusternet-app-deployer', token: d.token }],
    contexts: [{ name: 'child', cluster: 'child', user: 'clusternet-app-deployer' }],
    currentContext: 'child',
  });
  return kc;
}

export function deployerSecret(clusterId: string, namespace: string, childUrl: string, d: AppDeployer): V1Secret {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: deployerSecretName,
      namespace,
      labels: {
        'clusternet.io/created-by': 'clusternet-agent',
        'clusters.clusternet.io/cluster-id': clusterId,
        'clusters.clusternet.io/bootstrapping': 'credentials-auto',
      },
      annotations: { 'clusternet.io/autoupdate': 'true' },
      finalizers: ['apps.clusternet.io/finalizer'],
    },
    data: {
      'ca.crt': b64(d.caCrt),
      token: b64(d.token),
      'service-account.name': b64(d.serviceAccountName),
      'service-account.uid': b64(d.serviceAccountUid),
      'apiserver-advertise-url': b64(childUrl),
    },
  };
}

/** Create; when it exists, replace it only if it still says `clusternet.io/autoupdate: "true"`. */
export async function publishDeployerSecret(parent: KubeConfig, secret: V1Secret): Promise<'created' | 'updated'> {
  const core = parent.makeApiClient(CoreV1Api);
  const namespace = secret.metadata?.namespace ?? '';
  const what = `publishing Secret ${namespace}/${deployerSecretName}`;
  const created = await core.createNamespacedSecret({ namespace, body: secret }).then(
    () => true,
    (err: unknown) => {
      const failure = classifyApiError(err, what);
      if (failure.kind === 'conflict') return false;
      throw failure;
    },
  );
  if (created) return 'created';
  const live = await core.readNamespacedSecret({ name: deployerSecretName, namespace }).catch((e: unknown) => {
    throw classifyApiError(e, what);
  });
  if (live.metadata?.annotations?.['clusternet.io/autoupdate'] !== 'true') {
    throw new Error(`${what}: it exists without clusternet.io/autoupdate: "true"; not replacing it`);
  }
  await core.replaceNamespacedSecret({ name: deployerSecretName, namespace, body: secret }).catch((e: unknown) => {
    throw classifyApiError(e, what);
  });
  return 'updated';
}
