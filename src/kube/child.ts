// The child cluster's client configuration: --kubeconfig, or the in-cluster ServiceAccount. Like
// client-go's, it honours HTTPS_PROXY/NO_PROXY (in a pod, NO_PROXY must then cover the apiserver's
// service IP, e.g. with the service CIDR) unless the kubeconfig sets a `proxy-url` of its own.

import { KubeConfig } from './client-node.ts';
import { withProxy, type ProxyEnv, type ProxyFunc } from './proxy.ts';

/**
 * Why the in-cluster configuration cannot be used (outside a pod: the kubelet sets both variables), or
 * undefined. client-node would build `https://undefined:undefined` and fail later with "Invalid URL".
 */
export function inClusterUnavailable(env: ProxyEnv): string | undefined {
  const missing = ['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT'].filter((k) => (env[k] ?? '') === '');
  return missing.length === 0
    ? undefined
    : `no in-cluster configuration (${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not set): pass --kubeconfig`;
}

export function childKubeConfig(
  kubeconfig: string | undefined,
  proxyFor: ProxyFunc,
  env: ProxyEnv = process.env,
): KubeConfig {
  const kc = new KubeConfig();
  const outsideAPod = kubeconfig === undefined ? inClusterUnavailable(env) : undefined;
  if (outsideAPod !== undefined) throw new Error(outsideAPod);
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
