// The objects of one Description in the rollout benches (bench:deployer, bench:memory): a Deployment, a
// Service, a Secret, then ConfigMaps with a 512-byte payload, `count` objects in all.

import { randomBytes } from 'node:crypto';
import type { KubeObject } from '../../machines/deployer/decisions.ts';

export function rolloutObjects(ns: string, i: number, count = 5): KubeObject[] {
  const name = `w${String(i)}`;
  const all: KubeObject[] = [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns },
      spec: { clusterIP: 'None', selector: { app: name }, ports: [{ port: 80 }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: ns },
      stringData: { password: randomBytes(8).toString('hex') },
    },
  ];
  for (let k = 0; all.length < count; k++) {
    all.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${name}-${String(k)}`, namespace: ns },
      data: { index: String(i), k: String(k), payload: 'x'.repeat(512) },
    });
  }
  return all.slice(0, count);
}
