// The effects of leader election, against the child's coordination.k8s.io/v1 API (client-node has no
// leader election of its own). The Lease is read and written whole, with its resourceVersion, so
// concurrent writers conflict (409) instead of overwriting each other, and its metadata (the
// legacy-cluster-id annotation) is kept.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeConfig, V1Lease, V1LeaseSpec } from '@kubernetes/client-node';
import { ApiException, CoordinationV1Api, V1MicroTime } from '../kube/client-node.ts';
import { fromCallback, fromPromise } from 'xstate';
import { releasedRecord, type LeaseRecord } from '../../machines/leadership/decisions.ts';
import { legacyClusterIdAnnotation } from '../../machines/registration/decisions.ts';
import {
  leadershipMachine,
  termGuards,
  type LeadershipEvent,
  type LeaseRead,
  type WriteInput,
  type WriteResult,
} from '../../machines/leadership/machine.ts';
import { resumesAtOnce } from '../../machines/watch.ts';
import { steadyNow, wallNow, type Clock } from '../clock.ts';
import { watchObject } from '../kube/watch-object.ts';
import type { Logger } from '../logging/logger.ts';
import { classifyParentError } from '../registration/parent-client.ts';

/** `spec.holderIdentity` as the Go agent makes it: `<hostname>_<random UUID>`, new at every start. */
export function electionIdentity(host = hostname()): string {
  return `${host}_${randomUUID()}`;
}

const isStatus = (err: unknown, code: number): boolean => err instanceof ApiException && err.code === code;

/** MicroTime fields arrive as strings (client-node does not revive them) or Dates. */
function epochMs(t: unknown): number | undefined {
  if (t instanceof Date) return t.getTime();
  if (typeof t === 'string' && t !== '') {
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

export function leaseRecord(lease: V1Lease): LeaseRecord {
  const s = lease.spec ?? {};
  return {
    holderIdentity: s.holderIdentity ?? '',
    leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
    acquireTime: epochMs(s.acquireTime),
    renewTime: epochMs(s.renewTime),
    leaseTransitions: s.leaseTransitions ?? 0,
  };
}

/** The Lease spec written for a record: MicroTimes (RFC 3339 with microseconds), as client-go writes. */
export function leaseSpec(r: LeaseRecord): V1LeaseSpec {
  return {
    holderIdentity: r.holderIdentity,
    leaseDurationSeconds: r.leaseDurationSeconds,
    ...(r.acquireTime === undefined ? {} : { acquireTime: new V1MicroTime(r.acquireTime) }),
    ...(r.renewTime === undefined ? {} : { renewTime: new V1MicroTime(r.renewTime) }),
    leaseTransitions: r.leaseTransitions,
  };
}

/**
 * The Lease to PUT: the one read (its metadata, e.g. the legacy-cluster-id annotation, kept) with the
 * leader-election spec, as client-go's LeaseLock writes it; the resourceVersion makes it conditional.
 */
function withSpec(read: V1Lease | undefined, spec: V1LeaseSpec, resourceVersion: string | undefined): V1Lease {
  const metadata = read?.metadata ?? {};
  metadata.resourceVersion = resourceVersion ?? '';
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata, spec };
}

export interface LeadershipDeps {
  readonly child: KubeConfig;
  readonly namespace: string;
  readonly leaseName: string;
  readonly log: Logger;
  /** Steady time: expiry and the renew deadline (default steadyNow). */
  readonly now?: Clock;
  /** Wall time: acquireTime/renewTime written in the Lease (default Date.now). */
  readonly wallNow?: Clock;
}

/** The leadership statechart with the real effects provided. */
export function createLeadershipMachine(deps: LeadershipDeps): typeof leadershipMachine {
  const { namespace, leaseName: name, log } = deps;
  const now = deps.now ?? steadyNow;
  const wall = deps.wallNow ?? wallNow;
  const api = deps.child.makeApiClient(CoordinationV1Api);
  /** The Lease as last read: a write replaces it whole (metadata kept). */
  let lastRead: V1Lease | undefined;

  const where = `Lease ${namespace}/${name}`;
  /** One line saying what failed (the child's status message), not client-node's whole dump. */
  const failed =
    (what: string) =>
    (err: unknown): never => {
      throw classifyParentError(err, `${what} ${where}`);
    };
  const get = async (): Promise<V1Lease | undefined> =>
    api.readNamespacedLease({ name, namespace }).catch((err: unknown) => {
      if (isStatus(err, 404)) return undefined;
      return failed('reading')(err);
    });

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
    let written: V1Lease;
    if (input.action === 'create') {
      const carried = input.annotations[legacyClusterIdAnnotation];
      written = await api
        .createNamespacedLease({
          namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name, namespace, ...(carried === undefined ? {} : { annotations: input.annotations }) },
            spec: leaseSpec(input.record),
          },
        })
        .catch(failed('creating'));
      if (carried === undefined) log.info({ lease: where, uid: written.metadata?.uid }, 'created the Lease');
      else
        log.warn(
          { lease: where, uid: written.metadata?.uid, clusterId: carried },
          `the Lease was deleted while leading: created it again with ${legacyClusterIdAnnotation}=${carried}, so the cluster keeps its ID`,
        );
    } else {
      written = await api
        .replaceNamespacedLease({
          name,
          namespace,
          body: withSpec(lastRead, leaseSpec(input.record), input.resourceVersion),
        })
        .catch(failed('updating'));
    }
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

  // Best effort (the periodic reads go on without it): an idle or expired watch resumes at once, as
  // every watch does (machines/watch.ts); a failed one is left ended.
  const watchLease = fromCallback<LeadershipEvent>(({ sendBack }) => {
    let stop = (): void => undefined;
    const start = (resourceVersion: string | undefined): void => {
      stop = watchObject<V1Lease>(
        deps.child,
        `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
        name,
        () => {
          sendBack({ type: 'lease.changed' });
        },
        (end, resume) => {
          log.debug({ end: end.kind, err: end.message }, `watch of ${where} ended`);
          if (resumesAtOnce(end.kind)) start(resume);
        },
        resourceVersion,
      );
    };
    start(undefined);
    return () => {
      stop();
    };
  });

  return leadershipMachine.provide({
    actors: { readLease, writeLease, watchLease, releaseLease },
    guards: termGuards(now),
  });
}
