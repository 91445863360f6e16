// The Multi-Cluster Services CRDs the chart ships in crds/ (as Clusternet's latest agent chart does,
// spec §8.4): installed with the release (helm's --include-crds shows them), never templated, and the
// minimal RBAC for the MultiClusterService gate (spec §8.1).

import { describe, expect, it } from 'vitest';
import type { V1CustomResourceDefinition } from '@kubernetes/client-node';
import { render } from '../../chart/helm.ts';
import { rules } from '../../chart/shapes.ts';

describe('MCS CRDs in crds/', () => {
  it('are rendered only with --include-crds: ServiceExport and ServiceImport, multicluster.x-k8s.io/v1alpha1, namespaced', async () => {
    expect((await render()).filter((m) => m.kind === 'CustomResourceDefinition')).toEqual([]);
    const crds = (await render({}, { extra: ['--include-crds'] })).filter(
      (m) => m.kind === 'CustomResourceDefinition',
    ) as unknown as V1CustomResourceDefinition[];
    expect(
      crds.map((c) => [
        c.metadata?.name,
        c.spec.group,
        c.spec.names.kind,
        c.spec.scope,
        c.spec.versions.map((v) => v.name),
      ]),
    ).toEqual([
      ['serviceexports.multicluster.x-k8s.io', 'multicluster.x-k8s.io', 'ServiceExport', 'Namespaced', ['v1alpha1']],
      ['serviceimports.multicluster.x-k8s.io', 'multicluster.x-k8s.io', 'ServiceImport', 'Namespaced', ['v1alpha1']],
    ]);
    for (const c of crds) {
      expect(c.apiVersion).toBe('apiextensions.k8s.io/v1');
      expect(c.spec.versions[0]).toMatchObject({ served: true, storage: true, subresources: { status: {} } });
    }
  });

  it('the gate grants list/watch of EndpointSlices and get/list/watch/update of ServiceExports, nothing more', async () => {
    const role = (await render({ featureGates: 'MultiClusterService=true' })).find(
      (m) => m.kind === 'ClusterRole' && !m.metadata.name.endsWith(':app-deployer'),
    );
    if (role === undefined) throw new Error('no ClusterRole');
    const mcsRules = rules(role).filter((r) =>
      (r.apiGroups ?? []).some((g) => g === 'discovery.k8s.io' || g === 'multicluster.x-k8s.io'),
    );
    expect(mcsRules).toEqual([
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
      {
        apiGroups: ['multicluster.x-k8s.io'],
        resources: ['serviceexports'],
        verbs: ['get', 'list', 'watch', 'update'],
      },
    ]);
  });
});
