// What the registered components (heartbeat, tunnel, deployer) use to reach the parent: the dedicated
// credentials as registration stored and verified them in the child Secret `parent-cluster`. Reading
// them once per term matches the Go agent, which captures the token when its leader loop starts.

import type { KubeConfig } from '@kubernetes/client-node';
import { CoreV1Api } from '../kube/client-node.ts';
import { direct, type ProxyFunc } from '../kube/proxy.ts';
import { parentCredentialsSecret, storedCredentials, type DedicatedCredentials } from './credentials-secret.ts';
import { dedicatedKubeConfig } from './kube-config.ts';

export interface ParentAccess {
  readonly parentUrl: string;
  readonly credentials: DedicatedCredentials;
  /** A client configuration for the parent with the dedicated token, TLS verified against the CA. */
  readonly kubeConfig: KubeConfig;
}

/** The dedicated credentials stored in the child; the parent reached through `proxyFor`'s proxy, if any. */
export async function loadParentAccess(
  child: KubeConfig,
  systemNamespace: string,
  parentUrl: string,
  proxyFor: ProxyFunc = direct,
): Promise<ParentAccess> {
  const secret = await child
    .makeApiClient(CoreV1Api)
    .readNamespacedSecret({ name: parentCredentialsSecret, namespace: systemNamespace });
  const credentials = storedCredentials(secret);
  if (credentials === undefined) {
    throw new Error(`Secret ${systemNamespace}/${parentCredentialsSecret} holds no dedicated token`);
  }
  return { parentUrl, credentials, kubeConfig: dedicatedKubeConfig(parentUrl, credentials, proxyFor) };
}
