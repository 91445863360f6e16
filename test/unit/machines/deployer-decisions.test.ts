import { describe, expect, it } from 'vitest';
import {
  afterStatusWrite,
  decideDescription,
  defaultWorkerLimits,
  decodeManifests,
  deployerRole,
  descriptionNeedsWork,
  descriptionPhase,
  emptyQueue,
  enqueue,
  finalizer,
  finishWork,
  lastAppliedAnnotation,
  mergeManifestStatuses,
  nextDescriptionStatus,
  ownedByAnnotation,
  ownerKey,
  prepareManifest,
  settleWork,
  takeWork,
  type WorkerLimits,
  type Description,
  type KubeObject,
  type SyncMode,
} from '../../../machines/deployer/decisions.ts';
import { statusWriteAttempts } from '../../../machines/deployer/timing.ts';
import { workKindOf } from '../../../machines/deployer/helm-releases.ts';

describe('deployerRole (spec §1.5)', () => {
  it.each<[SyncMode, boolean, boolean]>([
    ['Pull', false, true],
    ['Pull', true, true],
    ['Push', true, false],
    ['Push', false, false],
    ['Dual', true, false],
    ['Dual', false, true],
  ])('%s with AppPusher=%s deploys: %s', (mode, appPusher, deploys) => {
    expect(deployerRole(mode, appPusher)).toEqual({ deploys, publishesDeployerSecret: true });
  });
});

const desc = (over: Partial<Description['metadata']> = {}, deployer = 'Generic'): Description => ({
  metadata: { name: 'd', namespace: 'ns', finalizers: [finalizer], ...over },
  spec: { deployer, raw: [] },
});

describe('decideDescription (spec §7.3)', () => {
  it.each<[string, Description, boolean, string]>([
    ['no finalizer', desc({ finalizers: [] }), true, 'injectFinalizer'],
    [
      'no finalizer, not deploying',
      { metadata: { name: 'd' }, spec: { deployer: 'Generic' } },
      false,
      'injectFinalizer',
    ],
    ['deleted without our finalizer', desc({ finalizers: ['other'], deletionTimestamp: 'x' }), true, 'skip'],
    ['Helm description', desc({}, 'Helm'), true, 'skip'],
    ['not deployable', desc(), false, 'skip'],
    ['being deleted', desc({ deletionTimestamp: '2026-01-01T00:00:00Z' }), true, 'offload'],
    ['being deleted, not deploying', desc({ deletionTimestamp: 'x' }), false, 'skip'],
    ['generic', desc(), true, 'apply'],
  ])('%s → %s', (_, d, deploys, action) => {
    expect(decideDescription(d, deploys)).toBe(action);
  });
});

describe('descriptionNeedsWork (enqueue rule, spec §7.2)', () => {
  const base = desc({ generation: 1, resourceVersion: '1' });
  it.each<[string, Description | undefined, Description | undefined, boolean]>([
    ['added', undefined, base, true],
    ['deleted', base, undefined, true],
    [
      'status only',
      base,
      { ...base, metadata: { ...base.metadata, resourceVersion: '2' }, status: { phase: 'x' } },
      false,
    ],
    ['spec changed', base, { ...base, metadata: { ...base.metadata, generation: 2 }, spec: { raw: ['e30='] } }, true],
    ['deletion started', base, desc({ generation: 1, deletionTimestamp: 'x' }), true],
    ['finalizer removed', base, desc({ generation: 1, finalizers: [] }), true],
  ])('%s → %s', (_, before, after, expected) => {
    expect(descriptionNeedsWork(before, after)).toBe(expected);
  });
});

const b64 = (o: unknown): string => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64');
const fromB64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

describe('decodeManifests', () => {
  it('decodes objects and names every malformed entry', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } };
    const out = decodeManifests(
      [
        b64(cm),
        b64('{not json'),
        b64([1]),
        b64({ kind: 'X', metadata: { name: 'n' } }),
        b64({ apiVersion: 'v1', metadata: { name: 'n' } }),
        b64({ apiVersion: 'v1', kind: 'Secret', metadata: {} }),
        42,
      ],
      fromB64,
    );
    expect(out[0]).toEqual({ ok: true, object: cm });
    expect(out.slice(1).map((m) => (m.ok ? 'ok' : m.error))).toEqual([
      expect.stringMatching(/^manifest 1: not a JSON object \(/),
      'manifest 2: not a JSON object',
      'manifest 3: no apiVersion',
      'manifest 4: no kind',
      'manifest 5: Secret without metadata.name',
      'manifest 6: not a base64 string',
    ]);
  });
  it('treats a missing raw as no manifests', () => {
    expect(decodeManifests(undefined, fromB64)).toEqual([]);
  });
});

describe('prepareManifest (spec §7.3 steps 2–3)', () => {
  const obj: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'app',
      uid: 'u',
      resourceVersion: '7',
      creationTimestamp: 'c',
      managedFields: [],
      labels: { a: 'b' },
      annotations: { keep: 'me', 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
    },
    spec: { replicas: 2 },
    status: { readyReplicas: 1 },
  };
  const out = prepareManifest(obj, 'clusternet-abc', 'base-generic');
  it('clears server-set fields and status, keeps labels and spec', () => {
    expect(Object.keys(out.metadata).sort()).toEqual(['annotations', 'labels', 'name', 'namespace']);
    expect(out.spec).toEqual({ replicas: 2 });
    expect(out.status).toBeUndefined();
  });
  it('sets the owner annotation and the last-applied text, drops kubectl’s', () => {
    const ann = out.metadata.annotations ?? {};
    expect(ann[ownedByAnnotation]).toBe('clusternet-abc.base-generic');
    expect(ann.keep).toBe('me');
    expect(ann['kubectl.kubernetes.io/last-applied-configuration']).toBeUndefined();
    const last = JSON.parse(ann[lastAppliedAnnotation] ?? '') as KubeObject;
    expect(last.metadata.annotations?.[ownedByAnnotation]).toBe('clusternet-abc.base-generic');
    expect(last.metadata.annotations?.[lastAppliedAnnotation]).toBeUndefined();
  });
  it('is stable when applied to its own output', () => {
    expect(prepareManifest(out, 'clusternet-abc', 'base-generic')).toEqual(out);
  });
});

describe('ownerKey', () => {
  it.each<[Record<string, string> | undefined, string | undefined]>([
    [{ [ownedByAnnotation]: 'ns.name' }, 'ns/name'],
    [{ [ownedByAnnotation]: 'ns.name.with.dots' }, 'ns/name'],
    [{ [ownedByAnnotation]: 'nodot' }, undefined],
    [{}, undefined],
    [undefined, undefined],
  ])('%j → %s', (ann, key) => {
    expect(ownerKey(ann)).toBe(key);
  });
});

describe('status', () => {
  it('is Success without errors, Failure with every error in order', () => {
    expect(descriptionPhase([{ ref: 'a' }, { ref: 'b' }])).toEqual({ phase: 'Success', reason: '' });
    expect(descriptionPhase([{ ref: 'a', error: 'e1' }, { ref: 'b' }, { ref: 'c', error: 'e2' }])).toEqual({
      phase: 'Failure',
      reason: 'e1; e2',
    });
  });
  it('is written only when it changed', () => {
    const ok = { phase: 'Success', reason: '' };
    expect(nextDescriptionStatus(undefined, ok, undefined)).toEqual({ phase: 'Success', reason: '' });
    expect(nextDescriptionStatus({ phase: 'Success' }, ok, undefined)).toBeUndefined();
    expect(nextDescriptionStatus({ phase: 'Success', reason: '' }, ok, undefined)).toBeUndefined();
    expect(nextDescriptionStatus({ phase: 'Failure', reason: 'x' }, ok, undefined)).toEqual(ok);
    const m = { kind: 'ConfigMap', apiVersion: 'v1', namespace: 'a', name: 'b', observedStatus: { x: 1 } };
    expect(nextDescriptionStatus({ ...ok, manifestStatuses: [m] }, ok, [m])).toBeUndefined();
    expect(nextDescriptionStatus({ ...ok, manifestStatuses: [m] }, ok, [{ ...m, observedStatus: { x: 2 } }])).toEqual({
      ...ok,
      manifestStatuses: [{ ...m, observedStatus: { x: 2 } }],
    });
  });
  it('merges manifest statuses by object, appending new ones', () => {
    const a = { kind: 'K', apiVersion: 'v1', namespace: 'n', name: 'a' };
    const b = { ...a, name: 'b' };
    expect(
      mergeManifestStatuses(
        [a, b],
        [
          { ...b, observedStatus: 1 },
          { ...a, name: 'c' },
        ],
      ),
    ).toEqual([a, { ...b, observedStatus: 1 }, { ...a, name: 'c' }]);
  });
});

describe('work queue', () => {
  const one = defaultWorkerLimits;
  const kindOf = workKindOf;

  it('deduplicates, bounds the workers, and requeues a key that changed while active', () => {
    let q = ['a', 'b', 'a', 'c', 'b'].reduce(enqueue, emptyQueue);
    expect(q.pending).toEqual(['a', 'b', 'c']);
    const t = takeWork(q, one, kindOf);
    expect(t.started).toEqual(['a', 'b']);
    q = t.queue;
    expect(takeWork(q, one, kindOf).started).toEqual([]);
    q = enqueue(q, 'a'); // changed while active
    q = enqueue(q, 'a');
    expect(q).toEqual({ pending: ['c'], active: ['a', 'b'], dirty: ['a'] });
    q = finishWork(q, 'a');
    expect(q).toEqual({ pending: ['c', 'a'], active: ['b'], dirty: [] });
    q = finishWork(q, 'b');
    expect(q).toEqual({ pending: ['c', 'a'], active: [], dirty: [] });
    expect(takeWork(q, { Description: 5, HelmRelease: 5 }, kindOf).started).toEqual(['c', 'a']);
  });

  it('settles a worker: a failure counts against its key and is the last failure, a success clears and counts', () => {
    const take = (w: ReturnType<typeof enqueue>) => takeWork(w, one, kindOf);
    const start = { queue: { pending: ['c'], active: ['a', 'b'], dirty: [] }, failures: { a: 2, b: 1 }, reconciled: 7 };
    const failed = settleWork(start, { type: 'work.failed', key: 'a', message: 'boom' }, take);
    expect(failed).toEqual({
      next: {
        queue: { pending: [], active: ['b', 'c'], dirty: [] },
        failures: { a: 3, b: 1 },
        reconciled: 7,
        lastFailure: 'boom',
      },
      started: ['c'],
    });
    const done = settleWork(failed.next, { type: 'work.done', key: 'b' }, take);
    expect(done.next).toEqual({ queue: { pending: [], active: ['c'], dirty: [] }, failures: { a: 3 }, reconciled: 8 });
    expect(done.started).toEqual([]);
  });

  // Spec §7.1.6: each controller has workers of its own; a kind without a free worker is passed over.
  it.each<[string, WorkerLimits, string[], string[], string[]]>([
    [
      'busy HelmReleases leave room for Descriptions',
      one,
      ['HelmRelease:x', 'HelmRelease:y'],
      ['HelmRelease:z', 'd'],
      ['d'],
    ],
    ['busy Descriptions leave room for HelmReleases', one, ['a', 'b'], ['c', 'HelmRelease:x'], ['HelmRelease:x']],
    [
      'each kind up to its own limit, in order',
      one,
      [],
      ['HelmRelease:x', 'HelmRelease:y', 'HelmRelease:z', 'a', 'b', 'c'],
      ['HelmRelease:x', 'HelmRelease:y', 'a', 'b'],
    ],
    [
      'limits of their own size',
      { Description: 3, HelmRelease: 1 },
      [],
      ['HelmRelease:x', 'HelmRelease:y', 'a', 'b', 'c', 'd'],
      ['HelmRelease:x', 'a', 'b', 'c'],
    ],
    ['nothing free', one, ['a', 'b', 'HelmRelease:x', 'HelmRelease:y'], ['c', 'HelmRelease:z'], []],
  ])('%s', (_, limits, active, pending, started) => {
    const q = { pending, active, dirty: [] };
    const t = takeWork(q, limits, kindOf);
    expect(t.started).toEqual(started);
    expect(t.queue.active).toEqual([...active, ...started]);
    expect(t.queue.pending).toEqual(pending.filter((k) => !started.includes(k)));
  });
});

describe('afterStatusWrite (status conflicts, spec §7.3, §7.4 step 11)', () => {
  it.each([
    [200, 1, 'written'],
    [200, 5, 'written'],
    [404, 1, 'gone'],
    [409, 1, 'reread'],
    [409, 4, 'reread'],
    [409, 5, 'fail'],
    [409, 6, 'fail'],
    [422, 1, 'fail'],
    [500, 1, 'fail'],
    [401, 1, 'fail'],
  ] as const)('HTTP %i on attempt %i: %s', (status, attempt, step) => {
    expect(afterStatusWrite(status, attempt, statusWriteAttempts)).toBe(step);
  });

  it('the shipped limit: five attempts in all (four re-reads)', () => {
    expect(statusWriteAttempts).toBe(5);
    const steps = [1, 2, 3, 4, 5].map((a) => afterStatusWrite(409, a, statusWriteAttempts));
    expect(steps).toEqual(['reread', 'reread', 'reread', 'reread', 'fail']);
  });
});
