// The child cluster's client configuration: --kubeconfig, or the in-cluster ServiceAccount. Like
// client-go's, it honours HTTPS_PROXY/NO_PROXY (in a pod, NO_PROXY must then cover the apiserver's
// service IP, e.g. with the service CIDR) unless the kubeconfig sets a `proxy-url` of its own.

import { KubeConfig } from '@kubernetes/client-node';
import { withProxy, type ProxyFunc } from './proxy.ts';

export function childKubeConfig(kubeconfig: string | undefined, proxyFor: ProxyFunc): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (kubeconfig === undefined) kc.loadFromCluster();
    else kc.loadFromFile(kubeconfig);
  } catch (err) {
    const where = kubeconfig === undefined ? 'the in-cluster configuration' : `--kubeconfig ${kubeconfig}`;
    throw new Error(`cannot load ${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (kc.getCurrentCluster() === null) {
    throw new Error(
      kubeconfig === undefined
        ? 'no in-cluster configuration (KUBERNETES_SERVICE_HOST unset): pass --kubeconfig'
        : `--kubeconfig ${kubeconfig} has no current cluster`,
    );
  }
  return withProxy(kc, proxyFor);
}
