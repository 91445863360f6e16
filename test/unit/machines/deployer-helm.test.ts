import { describe, expect, it } from 'vitest';
import { finalizer } from '../../../machines/deployer/decisions.ts';
import {
  decideHelmRelease,
  decideRelease,
  decodeHelmRelease,
  descriptionsOfHelmChart,
  failedStatus,
  goTimeString,
  helmChartChanged,
  helmReleaseOfWorkKey,
  helmReleaseWorkKey,
  nextHelmReleaseStatus,
  nextOwnerStatus,
  ownerDescriptionKey,
  ownerDescriptionStatus,
  parseRelease,
  releaseNameOf,
  releaseStatus,
  sameJson,
  stuckAfterMs,
  uninstallTarget,
  yamlDocuments,
  type HelmRelease,
  type HelmReleaseSpec,
  type ReleasePlan,
  type StoredRelease,
} from '../../../machines/deployer/helm-releases.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

const hr = (spec: HelmReleaseSpec = {}, meta: Partial<HelmRelease['metadata']> = {}): HelmRelease => ({
  metadata: { name: 'base-helm-ns-web', namespace: 'clusternet-x', finalizers: [finalizer], ...meta },
  spec: { repo: 'http://127.0.0.1:8080/charts', chart: 'web', targetNamespace: 'apps', ...spec },
});

const plan = (spec: HelmReleaseSpec = {}): ReleasePlan => {
  const d = decodeHelmRelease(hr(spec), unb64);
  if (!d.ok) throw new Error(d.error);
  return d.plan;
};

describe('work keys', () => {
  it('prefixes HelmRelease keys with the kind and tells them from Description keys', () => {
    expect(helmReleaseWorkKey('ns/a')).toBe('HelmRelease:ns/a');
    expect(helmReleaseOfWorkKey('HelmRelease:ns/a')).toBe('ns/a');
    expect(helmReleaseOfWorkKey('ns/a')).toBeUndefined();
  });
});

describe('decideHelmRelease (spec §7.4 steps 1, 3)', () => {
  it.each<[string, HelmRelease, boolean, string]>([
    ['no finalizer', hr({}, { finalizers: [] }), true, 'injectFinalizer'],
    ['no finalizer, standing by', { metadata: { name: 'x' } }, false, 'injectFinalizer'],
    ['deleted without our finalizer', hr({}, { finalizers: ['x'], deletionTimestamp: 't' }), true, 'skip'],
    ['standing by', hr(), false, 'skip'],
    ['being deleted, standing by', hr({}, { deletionTimestamp: 't' }), false, 'skip'],
    ['being deleted', hr({}, { deletionTimestamp: 't' }), true, 'uninstall'],
    ['deploying', hr(), true, 'deploy'],
  ])('%s → %s', (_, h, deploys, action) => {
    expect(decideHelmRelease(h, deploys)).toBe(action);
  });
});

describe('decodeHelmRelease', () => {
  it('applies the CRD defaults and the release name rule', () => {
    expect(plan()).toEqual({
      releaseName: 'base-helm-ns-web',
      namespace: 'apps',
      repo: 'http://127.0.0.1:8080/charts',
      chart: 'web',
      version: '',
      oci: false,
      values: {},
      pullSecret: undefined,
      createNamespace: true,
      timeoutSeconds: 300,
      wait: false,
      waitForJob: false,
      replace: false,
      atomic: false,
      upgradeAtomic: false,
      skipCRDs: false,
      replaceCRDs: false,
      disableHooks: false,
      force: false,
      plainHTTP: false,
    });
  });

  it('reads every option, the overrides, the pull secret (namespace defaulted) and oci repos', () => {
    const p = plan({
      repo: 'oci://127.0.0.1:5000/charts/',
      releaseName: 'web',
      version: '1.2.3',
      overrides: b64('{"replicas":2,"image":{"tag":"x"}}'),
      chartPullSecret: { name: 'creds' },
      createNamespace: false,
      timeoutSeconds: 30,
      wait: true,
      waitForJob: true,
      replace: true,
      atomic: true,
      upgradeAtomic: true,
      skipCRDs: true,
      replaceCRDs: true,
      disableHooks: true,
      force: true,
      plainHTTP: true,
    });
    expect(p).toMatchObject({
      releaseName: 'web',
      repo: 'oci://127.0.0.1:5000/charts',
      oci: true,
      version: '1.2.3',
      values: { replicas: 2, image: { tag: 'x' } },
      pullSecret: { name: 'creds', namespace: 'clusternet-x' },
      createNamespace: false,
      timeoutSeconds: 30,
      plainHTTP: true,
      force: true,
    });
  });

  it.each<[string, HelmReleaseSpec, RegExp]>([
    ['no repo', { repo: '' }, /spec.repo is empty/],
    ['a repo that is no URL', { repo: 'charts.example' }, /not an http, https or oci URL/],
    ['no chart', { chart: '' }, /spec.chart is empty/],
    ['no target namespace', { targetNamespace: '' }, /spec.targetNamespace is empty/],
    ['overrides not JSON', { overrides: b64('{nope') }, /spec.overrides is not JSON/],
    ['overrides an array', { overrides: b64('[1]') }, /not a JSON object/],
    ['a bad timeout', { timeoutSeconds: 0 }, /timeoutSeconds 0/],
    ['a release name helm refuses', { releaseName: 'Web_1' }, /release name "Web_1" is invalid/],
  ])('refuses %s', (_, spec, error) => {
    const d = decodeHelmRelease(hr(spec), unb64);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error).toMatch(error);
  });

  it('knows what to uninstall whatever else the spec says, or that nothing can be installed', () => {
    expect(uninstallTarget(hr({ overrides: b64('{broken'), repo: '' }))).toEqual({
      releaseName: 'base-helm-ns-web',
      namespace: 'apps',
      timeoutSeconds: 300,
      wait: false,
    });
    expect(uninstallTarget(hr({ releaseName: 'web', timeoutSeconds: 20, wait: true }))).toEqual({
      releaseName: 'web',
      namespace: 'apps',
      timeoutSeconds: 20,
      wait: true,
    });
    expect(uninstallTarget(hr({ timeoutSeconds: -1 }))?.timeoutSeconds).toBe(300);
    expect(uninstallTarget(hr({ targetNamespace: '' }))).toBeUndefined();
    expect(uninstallTarget(hr({ releaseName: 'Not_A_Name' }))).toBeUndefined();
  });

  it('names the release after the HelmRelease without spec.releaseName', () => {
    expect(releaseNameOf(hr({ releaseName: '' }))).toBe('base-helm-ns-web');
    expect(releaseNameOf(hr({ releaseName: 'web' }))).toBe('web');
  });
});

const stored = (over: Partial<StoredRelease> = {}): StoredRelease => ({
  name: 'base-helm-ns-web',
  namespace: 'apps',
  version: 3,
  status: 'deployed',
  chartName: 'web',
  chartVersion: '1.0.0',
  values: { a: 1 },
  firstDeployed: '2026-11-24T06:50:27.123456Z',
  lastDeployed: '2026-11-24T07:00:00Z',
  description: 'Upgrade complete',
  notes: '',
  ...over,
});

describe('decideRelease (spec §7.4 steps 7–9)', () => {
  const p = plan({ version: '1.0.0', overrides: b64('{"a":1}') });
  it.each<[string, ReleasePlan, StoredRelease | undefined, string]>([
    ['nothing stored', p, undefined, 'install'],
    ['the same chart, version and values', p, stored(), 'none'],
    [
      'values in another key order',
      plan({ version: '1.0.0', overrides: b64('{"b":2,"a":{"y":1,"x":[1,2]}}') }),
      stored({ values: { a: { x: [1, 2], y: 1 }, b: 2 } }),
      'none',
    ],
    [
      'the same keys, a nested value differs',
      plan({ version: '1.0.0', overrides: b64('{"b":2,"a":{"y":1,"x":[2,1]}}') }),
      stored({ values: { a: { x: [1, 2], y: 1 }, b: 2 } }),
      'upgrade:values',
    ],
    ['other values', plan({ version: '1.0.0', overrides: b64('{"a":2}') }), stored(), 'upgrade:values'],
    ['another version', plan({ version: '1.1.0', overrides: b64('{"a":1}') }), stored(), 'upgrade:chart version'],
    ['no version (latest)', plan({ overrides: b64('{"a":1}') }), stored(), 'upgrade:chart version'],
    ['another chart', plan({ chart: 'api', version: '1.0.0', overrides: b64('{"a":1}') }), stored(), 'upgrade:chart'],
    [
      'an oci chart path',
      plan({ repo: 'oci://h/c', chart: 'x/web', version: '1.0.0', overrides: b64('{"a":1}') }),
      stored(),
      'none',
    ],
    [
      'atomic, last release failed',
      plan({ atomic: true, version: '1.0.0', overrides: b64('{"a":1}') }),
      stored({ status: 'failed' }),
      'reinstall',
    ],
    ['atomic, deployed', plan({ atomic: true, version: '1.0.0', overrides: b64('{"a":1}') }), stored(), 'none'],
    ['not atomic, last release failed', p, stored({ status: 'failed' }), 'none'],
  ])('%s → %s', (_, pl, s, expected) => {
    const step = decideRelease(pl, s, Date.parse('2026-11-24T07:05:00Z'));
    expect(step.kind === 'upgrade' ? `upgrade:${step.why}` : step.kind).toBe(expected);
  });

  // Stuck: pending longer than a run of ours may last (deadline 4t+300 s, grace t+30 s, one minute more).
  const started = Date.parse('2026-11-24T07:00:00Z');
  const after = (seconds: number): number => started + seconds * 1000;
  const atomic = plan({ atomic: true, version: '1.0.0', overrides: b64('{"a":1}') });
  const quick = plan({ timeoutSeconds: 60, version: '1.0.0', overrides: b64('{"a":1}') });
  it.each<[string, ReleasePlan, StoredRelease, number, string]>([
    ['pending-install, helm may still run', p, stored({ status: 'pending-install' }), after(60), 'busy'],
    ['pending-upgrade, helm may still run, atomic', atomic, stored({ status: 'pending-upgrade' }), after(60), 'busy'],
    [
      'pending-upgrade, within the grace of a 300s timeout',
      p,
      stored({ status: 'pending-upgrade' }),
      after(1890),
      'busy',
    ],
    ['pending-install, stuck', p, stored({ status: 'pending-install' }), after(1891), 'reinstall'],
    ['pending-upgrade, stuck', p, stored({ status: 'pending-upgrade' }), after(1891), 'rollback'],
    ['pending-rollback, stuck', atomic, stored({ status: 'pending-rollback' }), after(4000), 'rollback'],
    ['pending-upgrade, stuck at a 60s timeout', quick, stored({ status: 'pending-upgrade' }), after(691), 'rollback'],
    ['pending, no readable start', p, stored({ status: 'pending-upgrade', lastDeployed: '' }), after(1e6), 'busy'],
  ])('%s → %s', (_, pl, s, now, expected) => {
    expect(decideRelease(pl, s, now).kind).toBe(expected);
  });

  it('says why a pending release waits', () => {
    const step = decideRelease(p, stored({ status: 'pending-upgrade' }), after(60));
    expect(step).toEqual({
      kind: 'busy',
      why: 'release base-helm-ns-web is pending-upgrade since 2026-11-24T07:00:00Z: another helm operation may still be running on it (it counts as stuck 1890s after it started)',
    });
    expect(stuckAfterMs(300)).toBe(1_890_000);
  });
});

describe('yamlDocuments', () => {
  it('splits on --- lines and drops empty or comment-only documents', () => {
    const text =
      '---\n# Source: crds/a.yaml\nkind: A\n---\n\n---  # trailing\n# only a comment\n---\nkind: B\nx: "---"\n';
    expect(yamlDocuments(text)).toEqual(['# Source: crds/a.yaml\nkind: A\n', 'kind: B\nx: "---"\n']);
    expect(yamlDocuments('')).toEqual([]);
  });
});

describe('parseRelease (helm -o json)', () => {
  it('reads what the decisions and the status need', () => {
    const r = parseRelease({
      name: 'web',
      namespace: 'apps',
      version: 2,
      info: {
        status: 'deployed',
        first_deployed: '2026-11-24T06:50:27.5Z',
        last_deployed: '2026-11-24T06:51:00Z',
        description: 'Upgrade complete',
        notes: 'hello',
      },
      chart: { metadata: { name: 'web', version: '0.1.0' }, templates: [] },
      config: { a: 1 },
      manifest: '---',
    });
    expect(r).toEqual({
      name: 'web',
      namespace: 'apps',
      version: 2,
      status: 'deployed',
      chartName: 'web',
      chartVersion: '0.1.0',
      values: { a: 1 },
      firstDeployed: '2026-11-24T06:50:27.5Z',
      lastDeployed: '2026-11-24T06:51:00Z',
      description: 'Upgrade complete',
      notes: 'hello',
    });
    expect(parseRelease({ nope: true })).toBeUndefined();
    expect(parseRelease({ name: 'x' })?.values).toEqual({});
  });
});

describe('statuses', () => {
  it.each<[string, string]>([
    ['2026-11-24T06:50:27.123456789Z', '2026-11-24 06:50:27.123456789 +0000 UTC'],
    ['2026-11-24T06:50:27.120Z', '2026-11-24 06:50:27.12 +0000 UTC'],
    ['2026-11-24T06:50:27Z', '2026-11-24 06:50:27 +0000 UTC'],
    ['2026-11-24T08:50:27.5+02:00', '2026-11-24 08:50:27.5 +0200 +0200'],
    ['garbage', 'garbage'],
  ])('Go time string of %s', (input, expected) => {
    expect(goTimeString(input)).toBe(expected);
  });

  it('builds the HelmRelease status from a release, or failed with the error as notes', () => {
    expect(releaseStatus(stored())).toEqual({
      phase: 'deployed',
      version: 3,
      firstDeployed: '2026-11-24 06:50:27.123456 +0000 UTC',
      lastDeployed: '2026-11-24 07:00:00 +0000 UTC',
      description: 'Upgrade complete',
      notes: '',
    });
    // Nothing of the release before stays (Go replaces the whole status).
    expect(failedStatus('chart not found')).toEqual({ phase: 'failed', notes: 'chart not found' });
    expect(nextHelmReleaseStatus(releaseStatus(stored()), failedStatus('boom'))).toEqual({
      phase: 'failed',
      notes: 'boom',
    });
  });

  it('writes a status only when it changed', () => {
    expect(nextHelmReleaseStatus({ phase: 'deployed', version: 1 }, { version: 1, phase: 'deployed' })).toBeUndefined();
    expect(nextHelmReleaseStatus(undefined, { phase: 'deployed' })).toEqual({ phase: 'deployed' });
    expect(nextHelmReleaseStatus({ phase: 'deployed', version: 1 }, { phase: 'deployed', version: 2 })).toEqual({
      phase: 'deployed',
      version: 2,
    });
  });

  it('maps every HelmRelease phase to the owner Description phase (spec §7.4 step 12)', () => {
    const phases = ['deployed', 'pending-install', 'pending-upgrade', 'uninstalling', 'superseded', 'failed'];
    const owner = (phase: string | undefined) =>
      ownerDescriptionStatus({ ...(phase === undefined ? {} : { phase }), notes: 'n' });
    expect(Object.fromEntries([...phases, 'pending-rollback'].map((p) => [p, owner(p)]))).toEqual({
      deployed: { phase: 'Success', reason: '' },
      'pending-install': { phase: 'Installing', reason: '' },
      'pending-upgrade': { phase: 'Upgrading', reason: '' },
      uninstalling: { phase: 'Uninstalling', reason: '' },
      // The notes explain what is not a success.
      superseded: { phase: 'Superseded', reason: 'n' },
      failed: { phase: 'Failure', reason: 'n' },
      'pending-rollback': { phase: 'Unknown', reason: 'n' },
    });
    expect(owner(undefined)).toEqual({ phase: 'Unknown', reason: 'n' });
  });

  it('writes the owner status only when phase or reason changed, keeping the rest', () => {
    expect(nextOwnerStatus({ phase: 'Success', reason: '' }, { phase: 'Success', reason: '' })).toBeUndefined();
    expect(nextOwnerStatus({ phase: 'Success' }, { phase: 'Success', reason: '' })).toBeUndefined();
    expect(nextOwnerStatus({ phase: 'Installing', manifestStatuses: [] }, { phase: 'Failure', reason: 'x' })).toEqual({
      phase: 'Failure',
      reason: 'x',
      manifestStatuses: [],
    });
  });

  it('finds the owner Description by its controller reference', () => {
    const owned = hr(
      {},
      {
        ownerReferences: [
          { kind: 'Base', name: 'b', uid: '1', controller: false },
          { kind: 'Description', name: 'base-helm', uid: 'u2', controller: true },
        ],
      },
    );
    expect(ownerDescriptionKey(owned)).toEqual({ key: 'clusternet-x/base-helm', uid: 'u2' });
    expect(ownerDescriptionKey(hr())).toBeUndefined();
    expect(
      ownerDescriptionKey(
        hr({}, { ownerReferences: [{ kind: 'Description', name: 'd', uid: 'u', controller: false }] }),
      ),
    ).toBeUndefined();
  });
});

describe('HelmCharts (spec §7.2)', () => {
  const chart = (labels: Record<string, string>, spec: unknown = { chart: 'web' }) => ({
    metadata: { name: 'web', namespace: 'default', labels },
    spec,
  });

  it('queues the Descriptions whose config.uid is a label key of the chart with value Base', () => {
    const descriptions: [string, Record<string, string> | undefined][] = [
      ['ns/a-helm', { 'apps.clusternet.io/config.uid': 'uid-1' }],
      ['ns/b-helm', { 'apps.clusternet.io/config.uid': 'uid-2' }],
      ['ns/c-helm', { 'apps.clusternet.io/config.uid': 'uid-3' }],
      ['ns/d', undefined],
    ];
    expect(
      descriptionsOfHelmChart(chart({ 'uid-1': 'Base', 'uid-2': 'Base', 'uid-3': 'Other' }), descriptions),
    ).toEqual(['ns/a-helm', 'ns/b-helm']);
    expect(descriptionsOfHelmChart(chart({}), descriptions)).toEqual([]);
  });

  it('counts additions, deletions and spec changes, not label or status updates', () => {
    expect(helmChartChanged(undefined, chart({}))).toBe(true);
    expect(helmChartChanged(chart({}), undefined)).toBe(true);
    expect(helmChartChanged(chart({}), chart({ x: 'Base' }))).toBe(false);
    expect(helmChartChanged(chart({}), chart({}, { chart: 'api' }))).toBe(true);
  });

  it('compares JSON deeply, ignoring key order', () => {
    expect(sameJson({ a: [1, { b: 2, c: 3 }] }, { a: [1, { c: 3, b: 2 }] })).toBe(true);
    expect(sameJson({ a: [1] }, { a: [1, 2] })).toBe(false);
    expect(sameJson({ a: 1 }, { a: '1' })).toBe(false);
    expect(sameJson({}, { a: undefined })).toBe(true);
  });
});
