// The child cluster's client configuration: --kubeconfig, or the in-cluster ServiceAccount.

import { KubeConfig } from '@kubernetes/client-node';

export function childKubeConfig(kubeconfig: string | undefined): KubeConfig {
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
  return kc;
}
