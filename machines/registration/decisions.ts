// Pure decisions of the registration lifecycle, called by the statechart's guards and by src/.

import type { FailureKind } from '../failure.ts';

export const legacyClusterIdAnnotation = 'legacy-cluster-id';
const uuid = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** What identity needs of a Lease. */
export interface LeaseView {
  readonly uid: string;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface IdentityDecision {
  readonly clusterId: string;
  /** Write this as the Lease's legacy-cluster-id annotation (an adopted or kept ID). */
  readonly annotate?: string;
  /**
   * Set when the Lease is not the one the cluster was registered with (deleted and recreated): its UID,
   * which is not used, so that the child stays one cluster for the parent. Worth a warning.
   */
  readonly replacedLeaseUid?: string;
}

/**
 * The cluster ID (§2): the `legacy-cluster-id` annotation of the agent's Lease if present; else the ID
 * this child was registered with (`known`: the cluster-id label of the `parent-cluster` Secret) when
 * the Lease's UID differs from it, kept and written as the annotation, so a deleted and recreated Lease
 * never makes the child a second cluster; else the UID of a v0.7.0-era `self-cluster` Lease (adopted,
 * so an existing cluster keeps its identity); else the Lease's own UID.
 */
export function decideClusterId(lease: LeaseView, legacy: LeaseView | undefined, known?: string): IdentityDecision {
  const annotated = lease.annotations[legacyClusterIdAnnotation];
  if (annotated !== undefined && uuid.test(annotated)) return { clusterId: annotated };
  const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
  if (known !== undefined && uuid.test(known) && !same(known, lease.uid)) {
    // Registered under the v0.7.0 Lease's UID: the ordinary adoption below, nothing was replaced.
    if (legacy !== undefined && same(legacy.uid, known)) return { clusterId: legacy.uid, annotate: legacy.uid };
    return { clusterId: known, annotate: known, replacedLeaseUid: lease.uid };
  }
  if (legacy !== undefined && uuid.test(legacy.uid)) return { clusterId: legacy.uid, annotate: legacy.uid };
  return { clusterId: lease.uid };
}

/**
 * The annotations a leader gives the Lease it creates: none before the cluster ID is known; once it is
 * (registered this term), the ID as legacy-cluster-id, so a Lease deleted while leading is recreated
 * under the same identity (decideClusterId then reads the annotation).
 */
export function newLeaseAnnotations(knownClusterId: string | undefined): Readonly<Record<string, string>> {
  return knownClusterId !== undefined && uuid.test(knownClusterId)
    ? { [legacyClusterIdAnnotation]: knownClusterId }
    : {};
}

/** The stored `parent-cluster` Secret, decoded. */
export interface StoredCredentialsView {
  readonly parentUrl: string | undefined;
  readonly hasToken: boolean;
  readonly hasCa: boolean;
  readonly namespace: string | undefined;
}

export type CredentialsVerdict = 'usable' | 'missing' | 'incomplete' | 'parentUrlChanged';

/** Whether stored credentials may be tried for `parentUrl` (§3.3 step 2). */
export function credentialsUsable(stored: StoredCredentialsView | undefined, parentUrl: string): CredentialsVerdict {
  if (stored === undefined) return 'missing';
  if (!stored.hasToken) return 'incomplete';
  if (normaliseUrl(stored.parentUrl ?? '') !== normaliseUrl(parentUrl)) return 'parentUrlChanged';
  return 'usable';
}

const normaliseUrl = (u: string): string => u.trim().replace(/\/+$/, '');

/**
 * What a failed check of the dedicated credentials means. Only a 401 says the parent rejects the
 * token itself; a 403 is a valid token that lacks a permission (e.g. while the controller-manager
 * recreates the ClusterRole `clusternet-<id>`), so the credentials stay; anything else (the parent
 * unreachable, a 5xx) says nothing about them.
 */
export type CredentialCheckVerdict = 'revoked' | 'lackingPermission' | 'inconclusive';

export function credentialCheckVerdict(failure: FailureKind): CredentialCheckVerdict {
  switch (failure) {
    case 'unauthorized':
      return 'revoked';
    case 'forbidden':
      return 'lackingPermission';
    default:
      return 'inconclusive';
  }
}

const nameAlphabet = 'bcdfghjklmnpqrstvwxz2456789';

/** `<prefix>-<5 random characters>`, as the Go agent generates a cluster name. */
export function generateClusterName(prefix: string, rand: () => number): string {
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += nameAlphabet[Math.floor(rand() * nameAlphabet.length)] ?? 'b';
  return `${prefix}-${suffix}`;
}

/** What the `parent-cluster` Secret holds, as far as writing the credentials goes. */
export interface SecretContent {
  readonly type?: string | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  /** Base64 values, as the API carries them. */
  readonly data?: Readonly<Record<string, string>> | undefined;
}

export type CredentialsWrite = 'create' | 'replace' | 'unchanged';

const sameRecord = (a: Readonly<Record<string, string>> = {}, b: Readonly<Record<string, string>> = {}): boolean => {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
};

/**
 * How to store the approved credentials (§3.5): create the Secret, replace it, or leave it when it
 * already holds exactly what would be written (the same token again, e.g. while the parent rejects the
 * credentials it approved and the agent loops back through the approved request).
 */
export function credentialsWrite(existing: SecretContent | undefined, desired: SecretContent): CredentialsWrite {
  if (existing === undefined) return 'create';
  const opaque = (t: string | undefined): string => (t === undefined || t === '' ? 'Opaque' : t);
  return opaque(existing.type) === opaque(desired.type) &&
    sameRecord(existing.labels, desired.labels) &&
    sameRecord(existing.data, desired.data)
    ? 'unchanged'
    : 'replace';
}
