import { describe, expect, it } from 'vitest';
import { nextDelay } from '../../../machines/backoff.ts';
import { failureKind, failureMessage } from '../../../machines/failure.ts';
import {
  credentialCheckVerdict,
  credentialsUsable,
  credentialsWrite,
  decideClusterId,
  generateClusterName,
  newLeaseAnnotations,
} from '../../../machines/registration/decisions.ts';
import { describeProblem } from '../../../machines/registration/problems.ts';

const uid = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const legacyUid = '11111111-2222-3333-4444-555555555555';

describe('decideClusterId (spec §2)', () => {
  it.each([
    ['the Lease UID', { uid, annotations: {} }, undefined, { clusterId: uid }],
    [
      'the legacy annotation over the UID',
      { uid, annotations: { 'legacy-cluster-id': legacyUid } },
      undefined,
      { clusterId: legacyUid },
    ],
    [
      'the annotation even when self-cluster exists',
      { uid, annotations: { 'legacy-cluster-id': legacyUid } },
      { uid: 'ffffffff-0000-0000-0000-000000000000', annotations: {} },
      { clusterId: legacyUid },
    ],
    [
      'adoption of a v0.7.0 self-cluster UID, to be recorded',
      { uid, annotations: {} },
      { uid: legacyUid, annotations: {} },
      { clusterId: legacyUid, annotate: legacyUid },
    ],
    [
      'the UID when the annotation is not a UUID',
      { uid, annotations: { 'legacy-cluster-id': 'junk' } },
      undefined,
      { clusterId: uid },
    ],
  ])('%s', (_, lease, legacy, expected) => {
    expect(decideClusterId(lease, legacy)).toEqual(expected);
  });

  // Issue 13 #8: the known ID is the cluster-id label of the parent-cluster Secret (registered before).
  const known = '99999999-8888-7777-6666-555555555555';
  it.each([
    [
      'the known ID when the Lease is new (deleted and recreated), kept as the annotation',
      { uid, annotations: {} },
      undefined,
      known,
      { clusterId: known, annotate: known, replacedLeaseUid: uid },
    ],
    ['the UID when it is the known ID', { uid, annotations: {} }, undefined, uid, { clusterId: uid }],
    [
      'the UID when the known ID differs only in case',
      { uid, annotations: {} },
      undefined,
      uid.toUpperCase(),
      { clusterId: uid },
    ],
    [
      'the annotation over the known ID',
      { uid, annotations: { 'legacy-cluster-id': legacyUid } },
      undefined,
      known,
      { clusterId: legacyUid },
    ],
    [
      'the annotation when it is the known ID',
      { uid, annotations: { 'legacy-cluster-id': known } },
      undefined,
      known,
      { clusterId: known },
    ],
    [
      'the known ID over a self-cluster UID',
      { uid, annotations: {} },
      { uid: legacyUid, annotations: {} },
      known,
      { clusterId: known, annotate: known, replacedLeaseUid: uid },
    ],
    [
      'the self-cluster UID when it is the known ID',
      { uid, annotations: {} },
      { uid: legacyUid, annotations: {} },
      legacyUid,
      { clusterId: legacyUid, annotate: legacyUid },
    ],
    ['the UID when the known ID is not a UUID', { uid, annotations: {} }, undefined, 'junk', { clusterId: uid }],
    [
      'the UID when nothing is known (first registration)',
      { uid, annotations: {} },
      undefined,
      undefined,
      { clusterId: uid },
    ],
  ])('%s', (_, lease, legacy, knownId, expected) => {
    expect(decideClusterId(lease, legacy, knownId)).toEqual(expected);
  });
});

describe('newLeaseAnnotations', () => {
  it.each([
    [undefined, {}],
    ['junk', {}],
    [uid, { 'legacy-cluster-id': uid }],
  ])('known %j → %j', (knownId, expected) => {
    expect(newLeaseAnnotations(knownId)).toEqual(expected);
  });
});

describe('credentialsUsable', () => {
  const url = 'https://parent:6443';
  it.each([
    [undefined, 'missing'],
    [{ parentUrl: url, hasToken: false, hasCa: true, namespace: 'n' }, 'incomplete'],
    [{ parentUrl: 'https://other:6443', hasToken: true, hasCa: true, namespace: 'n' }, 'parentUrlChanged'],
    [{ parentUrl: undefined, hasToken: true, hasCa: true, namespace: 'n' }, 'parentUrlChanged'],
    [{ parentUrl: `${url}/`, hasToken: true, hasCa: true, namespace: 'n' }, 'usable'],
    [{ parentUrl: url, hasToken: true, hasCa: false, namespace: undefined }, 'usable'],
  ])('%j → %s', (stored, verdict) => {
    expect(credentialsUsable(stored, url)).toBe(verdict);
  });
});

describe('credentialCheckVerdict: only a 401 revokes the dedicated credentials', () => {
  it.each([
    ['unauthorized', 'revoked'],
    ['forbidden', 'lackingPermission'],
    ['unreachable', 'inconclusive'],
    ['notFound', 'inconclusive'],
    ['invalid', 'inconclusive'],
    ['conflict', 'inconclusive'],
    ['other', 'inconclusive'],
  ] as const)('%s → %s', (kind, verdict) => {
    expect(credentialCheckVerdict(kind)).toBe(verdict);
  });
});

describe('failures', () => {
  it.each([
    [{ kind: 'unauthorized', message: '401' }, 'unauthorized', '401'],
    [new Error('boom'), 'other', 'boom'],
    ['text', 'other', 'text'],
    [{ type: 'credentials.rejected', message: 'heartbeat 401' }, 'other', 'heartbeat 401'],
  ])('%j → %s / %s', (err, kind, message) => {
    expect(failureKind(err)).toBe(kind);
    expect(failureMessage(err)).toBe(message);
  });
});

describe('generateClusterName', () => {
  it('is <prefix>-<5 chars of the Go alphabet>', () => {
    let i = 0;
    const seq = [0, 0.5, 0.999, 0.1, 0.3];
    expect(generateClusterName('clusternet-cluster', () => seq[i++ % seq.length] ?? 0)).toBe(
      'clusternet-cluster-br9dl',
    );
    for (let n = 0; n < 50; n++) {
      expect(generateClusterName('p', Math.random)).toMatch(/^p-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    }
  });
});

describe('nextDelay', () => {
  const policy = { initialMs: 500, factor: 2, maxMs: 30_000, jitter: 0.3 };
  it.each([
    [1, 0, 500],
    [2, 0, 1000],
    [5, 0, 8000],
    [7, 0, 30_000],
    [50, 0, 30_000],
    [1, 0.999, 350],
    [50, 0.5, 25_500],
  ])('attempt %d, rand %d → %d ms', (attempt, rand, ms) => {
    expect(nextDelay(attempt, policy, () => rand)).toBe(ms);
  });

  it('never exceeds the cap and never drops below (1 - jitter) of it', () => {
    for (let a = 1; a < 40; a++) {
      const d = nextDelay(a, policy, Math.random);
      expect(d).toBeLessThanOrEqual(30_000);
      expect(d).toBeGreaterThanOrEqual(Math.round(Math.min(30_000, 500 * 2 ** (a - 1)) * 0.7));
    }
  });
});

describe('credentialsWrite: the parent-cluster Secret is written only when it would change', () => {
  const labels = { 'clusters.clusternet.io/cluster-id': uid };
  const data = { token: 'dG9rZW4=', 'ca.crt': 'Y2E=', namespace: 'bnM=', 'apiserver-advertise-url': 'dXJs' };
  const desired = { labels, data };
  it.each([
    ['absent: create', undefined, 'create'],
    ['the same token, CA, namespace, URL and labels: leave it', { type: 'Opaque', labels, data }, 'unchanged'],
    ['no type is Opaque', { labels, data }, 'unchanged'],
    ['another token', { type: 'Opaque', labels, data: { ...data, token: 'b3RoZXI=' } }, 'replace'],
    ['a key missing', { type: 'Opaque', labels, data: { token: 'dG9rZW4=' } }, 'replace'],
    ['a key more', { type: 'Opaque', labels, data: { ...data, extra: 'eA==' } }, 'replace'],
    ['other labels', { type: 'Opaque', labels: { ...labels, x: 'y' }, data }, 'replace'],
    ['another type', { type: 'kubernetes.io/tls', labels, data }, 'replace'],
    ['no data', { type: 'Opaque', labels }, 'replace'],
  ] as const)('%s', (_, existing, expected) => {
    expect(credentialsWrite(existing, desired)).toBe(expected);
  });
});

describe('describeProblem: what /readyz says while registration is held up', () => {
  const base = { clusterId: uid, lastFailure: '401 Unauthorized', rejectedApprovals: 0 };
  it.each([
    [undefined, undefined],
    ['bootstrapTokenRejected', 'the parent rejects the bootstrap token (--cluster-reg-token): 401 Unauthorized'],
    [
      'requestDenied',
      `the parent denied ClusterRegistrationRequest clusternet-${uid}: 401 Unauthorized; delete it in the parent to request again`,
    ],
    ['parentUnreachable', 'the parent is unreachable: 401 Unauthorized'],
  ] as const)('%s', (problem, expected) => {
    expect(describeProblem({ ...base, problem })).toBe(expected);
  });
  it('names the request to delete when the parent rejects the credentials it approved', () => {
    expect(describeProblem({ ...base, problem: 'approvedCredentialsRejected', rejectedApprovals: 3 })).toBe(
      `the parent rejects the credentials it approved (3 times in a row); delete ClusterRegistrationRequest clusternet-${uid} in the parent to re-register`,
    );
  });
});
