// The coordination.k8s.io/v1 Lease as leader election reads and writes it: its spec as the pure
// LeaseRecord the decisions use, and back, with client-go's MicroTimes.

import type { V1Lease, V1LeaseSpec } from '@kubernetes/client-node';
import { V1MicroTime } from '../kube/client-node.ts';
import type { LeaseRecord } from '../../machines/leadership/decisions.ts';

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
export function withSpec(read: V1Lease | undefined, spec: V1LeaseSpec, resourceVersion: string | undefined): V1Lease {
  const metadata = read?.metadata ?? {};
  metadata.resourceVersion = resourceVersion ?? '';
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata, spec };
}
