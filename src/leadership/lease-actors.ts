// Reading, writing and releasing the Lease, against the child's coordination.k8s.io/v1 API (client-node
// has no leader election of its own). The Lease is read and written whole, with its resourceVersion,
// so concurrent writers conflict (409) instead of overwriting each other, and its metadata (the
// legacy-cluster-id annotation) is kept.

import type { KubeConfig, V1Lease } from '@kubernetes/client-node';
import { CoordinationV1Api } from '../kube/client-node.ts';
import { fromPromise } from 'xstate';
import { releasedRecord } from '../../machines/leadership/decisions.ts';
import type { LeaseRead, WriteInput, WriteResult } from '../../machines/leadership/machine.ts';
import { legacyClusterIdAnnotation } from '../../machines/registration/decisions.ts';
import type { Clock } from '../clock.ts';
import { classifyApiError, hasStatus } from '../kube/errors.ts';
import type { Logger } from '../logging/logger.ts';
import { leaseRecord, leaseSpec, withSpec } from './lease-object.ts';

export interface LeaseActorsDeps {
  readonly child: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  readonly log: Logger;
  /** Steady time: expiry and the renew deadline. */
  readonly now: Clock;
  /** Wall time: acquireTime/renewTime written in the Lease. */
  readonly wall: Clock;
}

/** The readLease, writeLease and releaseLease actors of one Lease. */
export function leaseActors(deps: LeaseActorsDeps) {
  const { namespace, name, log, now, wall } = deps;
  const api = deps.child.makeApiClient(CoordinationV1Api);
  const where = `Lease ${namespace}/${name}`;
  /** The Lease as last read: a write replaces it whole (metadata kept). */
  let lastRead: V1Lease | undefined;
  /** One line saying what failed (the child's status message), not client-node's whole dump. */
  const failed =
    (what: string) =>
    (err: unknown): never => {
      throw classifyApiError(err, `${what} ${where}`);
    };
  const get = async (): Promise<V1Lease | undefined> =>
    api.readNamespacedLease({ name, namespace }).catch((err: unknown) => {
      if (hasStatus(err, 404)) return undefined;
      return failed('reading')(err);
    });

  const create = async (input: WriteInput): Promise<V1Lease> => {
    const carried = input.annotations[legacyClusterIdAnnotation];
    const metadata = { name, namespace, ...(carried === undefined ? {} : { annotations: input.annotations }) };
    const written = await api
      .createNamespacedLease({
        namespace,
        body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata, spec: leaseSpec(input.record) },
      })
      .catch(failed('creating'));
    if (carried === undefined) log.info({ lease: where, uid: written.metadata?.uid }, 'created the Lease');
    else
      log.warn(
        { lease: where, uid: written.metadata?.uid, clusterId: carried },
        `the Lease was deleted while leading: created it again with ${legacyClusterIdAnnotation}=${carried}, so the cluster keeps its ID`,
      );
    return written;
  };
  const update = (input: WriteInput): Promise<V1Lease> =>
    api
      .replaceNamespacedLease({
        name,
        namespace,
        body: withSpec(lastRead, leaseSpec(input.record), input.resourceVersion),
      })
      .catch(failed('updating'));

  const readLease = fromPromise<LeaseRead>(async () => {
    const lease = await get();
    lastRead = lease;
    return {
      record: lease === undefined ? undefined : leaseRecord(lease),
      resourceVersion: lease?.metadata?.resourceVersion,
      at: now(),
      wallAt: wall(),
    };
  });

  const writeLease = fromPromise<WriteResult, WriteInput>(async ({ input }) => {
    const sentAt = now();
    const written = input.action === 'create' ? await create(input) : await update(input);
    lastRead = written;
    return { sentAt, at: now(), resourceVersion: written.metadata?.resourceVersion };
  });

  const releaseLease = fromPromise<undefined, { readonly identity: string }>(async ({ input }) => {
    const lease = await get();
    if (lease === undefined || leaseRecord(lease).holderIdentity !== input.identity) return undefined;
    await api
      .replaceNamespacedLease({
        name,
        namespace,
        body: withSpec(lease, leaseSpec(releasedRecord(leaseRecord(lease), wall())), lease.metadata?.resourceVersion),
      })
      .catch(failed('releasing'));
    log.info({ lease: where }, 'released the Lease');
    return undefined;
  });

  return { readLease, writeLease, releaseLease };
}
