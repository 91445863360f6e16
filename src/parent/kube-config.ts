// Client configurations for the parent cluster: the bootstrap token's and the dedicated credentials'.
// Their failures are classified as every API failure is (src/kube/errors.ts).

import { KubeConfig } from '../kube/client-node.ts';
import { direct, withProxy, type ProxyFunc } from '../kube/proxy.ts';
import type { DedicatedCredentials } from './credentials-secret.ts';

/**
 * A parent KubeConfig for a bearer token. With a CA, TLS is verified against it (host name from the
 * parent URL); with an empty one, against the system roots. Without one (the bootstrap phase: the agent
 * has nothing to pin yet), TLS is not verified, as with the Go agent. Requests go through the proxy
 * `proxyFor` picks for the parent URL (HTTPS_PROXY/NO_PROXY, as client-go's); `direct` when none is given.
 */
export function parentKubeConfig(
  parentUrl: string,
  token: string,
  caPem: string | undefined,
  proxyFor: ProxyFunc = direct,
): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'clusternet-cluster',
        server: parentUrl,
        skipTLSVerify: caPem === undefined,
        ...(caPem === undefined || caPem === '' ? {} : { caData: Buffer.from(caPem, 'utf8').toString('base64') }),
      },
    ],
    users: [{ name: 'clusternet', token }],
    contexts: [{ name: 'clusternet@clusternet-cluster', cluster: 'clusternet-cluster', user: 'clusternet' }],
    currentContext: 'clusternet@clusternet-cluster',
  });
  return withProxy(kc, proxyFor);
}

export const dedicatedKubeConfig = (
  parentUrl: string,
  c: DedicatedCredentials,
  proxyFor: ProxyFunc = direct,
): KubeConfig => parentKubeConfig(parentUrl, c.token, c.caPem, proxyFor);
