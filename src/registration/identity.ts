// The cluster identity (spec §2), read in the child: the agent's Lease (its legacy-cluster-id
// annotation or UID), a v0.7.0-era `self-cluster` Lease, and the cluster ID the `parent-cluster` Secret
// was registered with. The decision is decideClusterId's; this reads and writes the objects.

import type { KubeConfig, V1Lease } from '@kubernetes/client-node';
import { CoordinationV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '../kube/client-node.ts';
import { fromPromise } from 'xstate';
import {
  decideClusterId,
  legacyClusterIdAnnotation,
  type IdentityDecision,
  type LeaseView,
} from '../../machines/registration/decisions.ts';
import type { IdentityOutput } from '../../machines/registration/machine.ts';
import { ApiFailure, classifyApiError, hasStatus } from '../kube/errors.ts';
import type { Logger } from '../logging/logger.ts';
import { labels } from '../parent/clusters-api.ts';
import { parentCredentialsSecret } from '../parent/credentials-secret.ts';

/** The v0.7.0 agent's Lease: its UID is adopted as the cluster ID (§2). */
export const legacyLeaseName = 'self-cluster';

/** A read that answers undefined for a 404. */
export const absentOn404 = (err: unknown): undefined => {
  if (hasStatus(err, 404)) return undefined;
  throw err;
};

const leaseView = (l: V1Lease): LeaseView => ({
  uid: l.metadata?.uid ?? '',
  annotations: l.metadata?.annotations ?? {},
});

export interface IdentityDeps {
  readonly child: KubeConfig;
  readonly namespace: string;
  readonly leaseName: string;
  readonly log: Logger;
}

/** The resolveIdentity actor: reads (and if needed adopts) the cluster ID from the child's Lease. */
export function identityResolver(deps: IdentityDeps) {
  const { namespace: ns, leaseName, log } = deps;
  const core = deps.child.makeApiClient(CoreV1Api);
  const coordination = deps.child.makeApiClient(CoordinationV1Api);
  const readLease = async (name: string): Promise<V1Lease | undefined> =>
    coordination.readNamespacedLease({ name, namespace: ns }).catch(absentOn404);

  const decide = async (): Promise<IdentityDecision> => {
    // Registration runs only while leading, and the elector creates the Lease on its first campaign, so
    // it exists here; it is only read. (With --leader-elect=false it must exist already, as for Go.)
    const lease = await readLease(leaseName);
    if (lease === undefined)
      throw new ApiFailure(
        'other',
        `Lease ${ns}/${leaseName} not found (leader election creates it; with --leader-elect=false it must exist)`,
      );
    const legacy = leaseName === legacyLeaseName ? undefined : await readLease(legacyLeaseName);
    // The ID this child was registered with, if it was: a recreated Lease must not make a second cluster.
    const known = await core
      .readNamespacedSecret({ name: parentCredentialsSecret, namespace: ns })
      .then((s) => s.metadata?.labels?.[labels.clusterId])
      .catch(absentOn404);
    return decideClusterId(leaseView(lease), legacy === undefined ? undefined : leaseView(legacy), known);
  };

  const annotate = async (decision: IdentityDecision, value: string): Promise<void> => {
    await coordination.patchNamespacedLease(
      { name: leaseName, namespace: ns, body: { metadata: { annotations: { [legacyClusterIdAnnotation]: value } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    if (decision.replacedLeaseUid === undefined)
      log.info(
        { clusterId: decision.clusterId },
        `adopted the cluster ID of the v0.7.0 Lease ${ns}/${legacyLeaseName}`,
      );
  };

  return fromPromise<IdentityOutput>(async () => {
    try {
      const decision = await decide();
      if (decision.replacedLeaseUid !== undefined)
        log.warn(
          { clusterId: decision.clusterId, leaseUid: decision.replacedLeaseUid },
          `Lease ${ns}/${leaseName} is not the one this cluster registered with (deleted and recreated?): keeping cluster ID ${decision.clusterId}, recorded as its ${legacyClusterIdAnnotation} annotation`,
        );
      if (decision.annotate !== undefined) await annotate(decision, decision.annotate);
      return { clusterId: decision.clusterId };
    } catch (err) {
      throw new ApiFailure(
        'other',
        `reading the cluster identity from Lease ${ns}/${leaseName} in the child: ${classifyApiError(err, 'child').message}`,
        { cause: err },
      );
    }
  });
}
