// The Node and Pod objects the predictor benchmark fills a cluster (or the caches) with: the same
// shapes as the heartbeat benchmark's (kubelet-like nodes, one-container pods of 100m / 128Mi), plus a
// few taints, zones and GPU nodes so that requests exercise every step of the algorithm.

import type { V1Node, V1Pod } from '@kubernetes/client-node';

export const benchNodeName = (i: number): string => `bench-node-${String(i).padStart(5, '0')}`;

export function benchNode(i: number): V1Node {
  const gpu = i % 10 === 0;
  return {
    metadata: {
      name: benchNodeName(i),
      labels: {
        'kubernetes.io/hostname': benchNodeName(i),
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node.kubernetes.io/instance-type': gpu ? 'p3.2xlarge' : 'm5.xlarge',
        'topology.kubernetes.io/zone': `zone-${String(i % 3)}`,
      },
    },
    spec: i % 20 === 0 ? { taints: [{ key: 'dedicated', value: 'batch', effect: 'NoSchedule' }] } : {},
    status: {
      capacity: { cpu: '4', memory: '16283004Ki', pods: '110', 'ephemeral-storage': '104845292Ki' },
      allocatable: {
        cpu: '3920m',
        memory: '15263996Ki',
        pods: '110',
        'ephemeral-storage': '96625420245',
        ...(gpu ? { 'nvidia.com/gpu': '4' } : {}),
      },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
    },
  };
}

export function benchPod(i: number, podsPerNode: number): V1Pod {
  return {
    metadata: {
      name: `bench-pod-${String(i).padStart(7, '0')}`,
      namespace: 'bench-pods',
      labels: { app: `app-${String(i % 100)}`, 'pod-template-hash': 'abcdef' },
    },
    spec: {
      nodeName: benchNodeName(Math.floor(i / Math.max(1, podsPerNode))),
      automountServiceAccountToken: false,
      containers: [
        {
          name: 'app',
          image: 'registry.example/team/app:v1',
          args: ['--port=8080', '--log-level=info'],
          env: [{ name: 'MODE', value: 'bench' }],
          resources: { requests: { cpu: '100m', memory: '128Mi' } },
        },
      ],
    },
    status: { phase: 'Running' },
  };
}

/** The request bodies a benchmark cycles through: what the Go scheduler sends. */
export const benchRequests: readonly string[] = [
  '{"resources":{"requests":{"cpu":"500m","memory":"1Gi"}}}',
  '{"nodeSelector":{"topology.kubernetes.io/zone":"zone-1"},"resources":{"limits":{"cpu":"1"},"requests":{"cpu":"250m","memory":"512Mi"}}}',
  '{"tolerations":[{"key":"dedicated","operator":"Equal","value":"batch","effect":"NoSchedule"}],"resources":{"requests":{"cpu":"1","memory":"2Gi","nvidia.com/gpu":"1"}}}',
  '{}',
];
