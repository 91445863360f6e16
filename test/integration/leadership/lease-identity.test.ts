// Issue 13 #8 on the real clusters: a Lease deleted while the agent leads is created again, with a new
// UID, but the cluster keeps the ID it registered with (legacy-cluster-id annotation, spec §2), and a
// restart registers no second cluster; nor does a start after the Lease was deleted while no agent ran
// (the ID is then read from the parent-cluster Secret's cluster-id label).

import { CoordinationV1Api, CustomObjectsApi, type V1Lease } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { eventually } from '../../env/eventually.ts';
import { testEnv } from '../../env/vitest-env.ts';
import { registrationParent } from '../helpers/parent.ts';

const env = testEnv();
const parent = registrationParent(env);

const leases = () => env.adminClient('child', CoordinationV1Api);
const readLease = (ns: string): Promise<V1Lease> =>
  leases().readNamespacedLease({ name: 'clusternet-agent', namespace: ns });

/** The ClusterRegistrationRequests and ManagedClusters in the parent for a cluster ID. */
async function registrations(clusterId: string): Promise<{ crrs: number; managedClusters: number }> {
  const objects = env.adminClient('parent', CustomObjectsApi);
  const labelSelector = `clusters.clusternet.io/cluster-id=${clusterId}`;
  const list = async (plural: string): Promise<number> =>
    (
      (await objects.listClusterCustomObject({
        group: 'clusters.clusternet.io',
        version: 'v1beta1',
        plural,
        labelSelector,
      })) as {
        items: unknown[];
      }
    ).items.length;
  return { crrs: await list('clusterregistrationrequests'), managedClusters: await list('managedclusters') };
}

describe('the cluster identity survives the Lease', () => {
  it('deleted while leading: recreated with legacy-cluster-id, one cluster after a restart; deleted while stopped: still one', async () => {
    const ns = await parent.systemNamespace('cnet-id');
    const args = [`--leader-elect-resource-namespace=${ns}`];
    const first = parent.agent(args);
    await first.waitForState('leading.serving.working', 60_000, 'agent');
    const original = await readLease(ns);
    const clusterId = original.metadata?.uid ?? '';
    expect(await registrations(clusterId)).toEqual({ crrs: 1, managedClusters: 1 });

    await leases().deleteNamespacedLease({ name: 'clusternet-agent', namespace: ns });
    const recreated = await eventually(
      'the Lease created again by the leader',
      async () => {
        const l = await readLease(ns).catch(() => undefined);
        return l !== undefined && l.metadata?.uid !== clusterId ? l : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(recreated.metadata?.annotations?.['legacy-cluster-id']).toBe(clusterId);
    await first.waitForLine(
      'the warning',
      (l) => l.level === 'warn' && (l.msg ?? '').includes('deleted while leading'),
    );
    expect(first.states('agent').at(-1)).toBe('leading.serving.working'); // it went on leading and serving
    await first.stop();

    // A restart reads the annotation: the same cluster, no request for the new Lease's UID.
    const second = parent.agent(args);
    await second.waitForState('leading.serving.working', 60_000, 'agent');
    const registered = await second.waitForLine('registered', (l) => l.msg?.startsWith('registered with') === true);
    expect(registered.clusterId).toBe(clusterId);
    expect(await registrations(clusterId)).toEqual({ crrs: 1, managedClusters: 1 });
    expect(await registrations(recreated.metadata?.uid ?? '')).toEqual({ crrs: 0, managedClusters: 0 });
    await second.stop();

    // Deleted while no agent runs: the next start creates a bare Lease and keeps the Secret's ID.
    await leases().deleteNamespacedLease({ name: 'clusternet-agent', namespace: ns });
    const third = parent.agent(args);
    await third.waitForState('leading.serving.working', 60_000, 'agent');
    const fresh = await readLease(ns);
    expect(fresh.metadata?.uid).not.toBe(recreated.metadata?.uid);
    expect(fresh.metadata?.annotations?.['legacy-cluster-id']).toBe(clusterId);
    expect(third.lines.some((l) => l.level === 'warn' && l.leaseUid === fresh.metadata?.uid)).toBe(true);
    expect(await registrations(clusterId)).toEqual({ crrs: 1, managedClusters: 1 });
    expect(await registrations(fresh.metadata?.uid ?? '')).toEqual({ crrs: 0, managedClusters: 0 });
  });
});
