// The parent's clusters.clusternet.io API group and the labels the agent's objects carry in it and in
// the child (spec §2, §3.2), shared by registration and the registered components.

export const clustersGroup = 'clusters.clusternet.io';

export const labels = {
  registeredBy: 'clusters.clusternet.io/registered-by',
  clusterId: 'clusters.clusternet.io/cluster-id',
  clusterName: 'clusters.clusternet.io/cluster-name',
  bootstrapping: 'clusters.clusternet.io/bootstrapping',
} as const;
