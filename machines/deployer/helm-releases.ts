// Pure decisions of the HelmRelease reconcile (spec §7.2, §7.4): what a HelmRelease asks for, what to do
// with the release stored in the child, the status written back to the HelmRelease and to its owner
// Description, and which Descriptions a HelmChart change queues again. The helm binary runs in src/.

import { lifecycleStep, type DescriptionStatus, type ObjectMeta, type WorkKind } from './decisions.ts';

export interface OwnerReference {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly name?: string;
  readonly uid?: string;
  readonly controller?: boolean;
}

export interface HelmReleaseSpec {
  readonly repo?: string;
  readonly chart?: string;
  readonly version?: string;
  readonly chartPullSecret?: { readonly name?: string; readonly namespace?: string };
  readonly createNamespace?: boolean;
  readonly timeoutSeconds?: number;
  readonly wait?: boolean;
  readonly waitForJob?: boolean;
  readonly replace?: boolean;
  readonly atomic?: boolean;
  readonly upgradeAtomic?: boolean;
  readonly skipCRDs?: boolean;
  readonly replaceCRDs?: boolean;
  readonly disableHooks?: boolean;
  readonly force?: boolean;
  readonly plainHTTP?: boolean;
  readonly targetNamespace?: string;
  readonly releaseName?: string;
  /** Base64 of a JSON object (Go `[]byte`). */
  readonly overrides?: string;
}

export interface HelmReleaseStatus {
  readonly phase?: string;
  readonly version?: number;
  readonly firstDeployed?: string;
  readonly lastDeployed?: string;
  readonly description?: string;
  readonly notes?: string;
}

export interface HelmRelease {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta & { readonly ownerReferences?: readonly OwnerReference[] };
  readonly spec?: HelmReleaseSpec;
  readonly status?: HelmReleaseStatus;
}

export interface HelmChart {
  readonly metadata: ObjectMeta;
  readonly spec?: unknown;
}

// ---------------------------------------------------------------------------------------------------
// Work keys: HelmReleases share the deployer's queue with Descriptions (each kind with workers of its
// own), their keys prefixed by the kind (a namespace or a name never holds a colon).

const helmReleasePrefix = 'HelmRelease:';

export const helmReleaseWorkKey = (key: string): string => `${helmReleasePrefix}${key}`;

/** `<ns>/<name>` of a HelmRelease work key, undefined for a Description key. */
export function helmReleaseOfWorkKey(workKey: string): string | undefined {
  return workKey.startsWith(helmReleasePrefix) ? workKey.slice(helmReleasePrefix.length) : undefined;
}

/** Which controller's workers a work key waits for. */
export const workKindOf = (workKey: string): WorkKind =>
  workKey.startsWith(helmReleasePrefix) ? 'HelmRelease' : 'Description';

// ---------------------------------------------------------------------------------------------------
// What a HelmRelease asks for

export type HelmReleaseAction =
  /** Not ours to do anything with (not deploying here, or deleted without our finalizer). */
  | 'skip'
  /** Add our finalizer first (every sync mode, spec §7.4 step 1), then decide again. */
  | 'injectFinalizer'
  /** A real deletion in the parent: uninstall, then remove the finalizer. */
  | 'uninstall'
  | 'deploy';

export function decideHelmRelease(hr: HelmRelease, deploys: boolean): HelmReleaseAction {
  const step = lifecycleStep(hr.metadata, deploys);
  return step === 'remove' ? 'uninstall' : step === 'converge' ? 'deploy' : step;
}

/** Everything helm needs, validated, with the CRD defaults applied. */
export interface ReleasePlan {
  readonly releaseName: string;
  readonly namespace: string;
  readonly repo: string;
  readonly chart: string;
  /** '' = the latest version. */
  readonly version: string;
  readonly oci: boolean;
  readonly values: Readonly<Record<string, unknown>>;
  readonly pullSecret: { readonly name: string; readonly namespace: string } | undefined;
  readonly createNamespace: boolean;
  readonly timeoutSeconds: number;
  readonly wait: boolean;
  readonly waitForJob: boolean;
  readonly replace: boolean;
  readonly atomic: boolean;
  readonly upgradeAtomic: boolean;
  readonly skipCRDs: boolean;
  readonly replaceCRDs: boolean;
  readonly disableHooks: boolean;
  readonly force: boolean;
  readonly plainHTTP: boolean;
}

export type DecodedHelmRelease =
  { readonly ok: true; readonly plan: ReleasePlan } | { readonly ok: false; readonly error: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Release name (spec §7.4 step 2): `spec.releaseName`, else the HelmRelease's own name. */
export function releaseNameOf(hr: HelmRelease): string {
  const r = hr.spec?.releaseName;
  return r !== undefined && r !== '' ? r : (hr.metadata.name ?? '');
}

/** A name helm accepts for a release: a DNS-1123 subdomain of at most 53 characters. */
const validReleaseName = (name: string): boolean =>
  name.length <= 53 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name);

/** Where the release goes and from which chart; a string says why the spec cannot be used. */
function decodeTarget(
  hr: HelmRelease,
  spec: HelmReleaseSpec,
): { repo: string; chart: string; namespace: string; releaseName: string } | string {
  const repo = (spec.repo ?? '').replace(/\/+$/, '');
  if (repo === '') return 'spec.repo is empty';
  if (!/^(https?|oci):\/\/[^\s]+$/.test(repo))
    return `spec.repo ${JSON.stringify(repo)} is not an http, https or oci URL`;
  const chart = spec.chart ?? '';
  if (chart === '') return 'spec.chart is empty';
  const namespace = spec.targetNamespace ?? '';
  if (namespace === '') return 'spec.targetNamespace is empty';
  const releaseName = releaseNameOf(hr);
  if (!validReleaseName(releaseName)) {
    return `release name ${JSON.stringify(releaseName)} is invalid (a DNS-1123 subdomain of at most 53 characters)`;
  }
  return { repo, chart, namespace, releaseName };
}

/** The values of spec.overrides (base64 JSON, `decode`d); a string says why they cannot be used. */
function decodeOverrides(overrides: string, decode: (base64: string) => string): Record<string, unknown> | string {
  if (overrides === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(decode(overrides));
  } catch (err) {
    return `spec.overrides is not JSON (${err instanceof Error ? err.message : String(err)})`;
  }
  if (parsed !== null && !isRecord(parsed)) return 'spec.overrides is not a JSON object';
  return parsed ?? {};
}

/** The helm flags of the spec, with their defaults. */
function flagsOf(spec: HelmReleaseSpec) {
  return {
    version: spec.version ?? '',
    createNamespace: spec.createNamespace ?? true,
    wait: spec.wait ?? false,
    waitForJob: spec.waitForJob ?? false,
    replace: spec.replace ?? false,
    atomic: spec.atomic ?? false,
    upgradeAtomic: spec.upgradeAtomic ?? false,
    skipCRDs: spec.skipCRDs ?? false,
    replaceCRDs: spec.replaceCRDs ?? false,
    disableHooks: spec.disableHooks ?? false,
    force: spec.force ?? false,
    plainHTTP: spec.plainHTTP ?? false,
  };
}

/** Validates a HelmRelease (`decode` turns base64 into text). */
export function decodeHelmRelease(hr: HelmRelease, decode: (base64: string) => string): DecodedHelmRelease {
  const spec = hr.spec ?? {};
  const target = decodeTarget(hr, spec);
  if (typeof target === 'string') return { ok: false, error: target };
  const values = decodeOverrides(spec.overrides ?? '', decode);
  if (typeof values === 'string') return { ok: false, error: values };
  const timeoutSeconds = spec.timeoutSeconds ?? 300;
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds <= 0) {
    return { ok: false, error: `spec.timeoutSeconds ${String(timeoutSeconds)} is not a positive integer` };
  }
  const secretName = spec.chartPullSecret?.name ?? '';
  const pullSecret =
    secretName === ''
      ? undefined
      : { name: secretName, namespace: spec.chartPullSecret?.namespace ?? hr.metadata.namespace ?? '' };
  return {
    ok: true,
    plan: { ...target, ...flagsOf(spec), oci: target.repo.startsWith('oci://'), values, pullSecret, timeoutSeconds },
  };
}

/** What an uninstall needs: a deletion must not wait for a valid spec (overrides, chart, repo). */
export type UninstallTarget = Pick<ReleasePlan, 'releaseName' | 'namespace' | 'timeoutSeconds' | 'wait'>;

/**
 * The release to uninstall when the HelmRelease is deleted (spec §7.4 step 3), whatever else its spec
 * says; undefined when nothing can have been installed from it (no target namespace, or a release name
 * helm refuses), so the finalizer may go at once.
 */
export function uninstallTarget(hr: HelmRelease): UninstallTarget | undefined {
  const namespace = hr.spec?.targetNamespace ?? '';
  const releaseName = releaseNameOf(hr);
  if (namespace === '' || !validReleaseName(releaseName)) return undefined;
  const t = hr.spec?.timeoutSeconds;
  const timeoutSeconds = t !== undefined && Number.isInteger(t) && t > 0 ? t : 300;
  return { releaseName, namespace, timeoutSeconds, wait: hr.spec?.wait ?? false };
}

// ---------------------------------------------------------------------------------------------------
// How long a helm run may take

/**
 * When an install, upgrade, rollback or uninstall is stopped (SIGTERM). helm's `--timeout` bounds each
 * hook and the wait separately, and the chart download not at all, so a healthy run can take several
 * times timeoutSeconds: room for four (pre-hooks, the wait, post-hooks, an atomic rollback's wait) and
 * five minutes more. A leadership term that ends stops a run sooner.
 */
export const helmDeadlineMs = (timeoutSeconds: number): number => (4 * timeoutSeconds + 300) * 1000;

/**
 * After SIGTERM, how long helm has before SIGKILL: install and upgrade catch SIGTERM and mark the
 * release failed (with atomic they then uninstall or roll back, bounded by the timeout); a SIGKILL would
 * leave it pending-install / pending-upgrade, and every later operation fails "another operation is in
 * progress".
 */
export const helmGraceMs = (timeoutSeconds: number): number => (timeoutSeconds + 30) * 1000;

// ---------------------------------------------------------------------------------------------------
// The stored release (helm's JSON: `helm status -o json`, `helm install/upgrade -o json`)

export interface StoredRelease {
  readonly name: string;
  readonly namespace: string;
  readonly version: number;
  readonly status: string;
  readonly chartName: string;
  readonly chartVersion: string;
  /** The user-supplied values of the release (helm's `config`). */
  readonly values: Readonly<Record<string, unknown>>;
  readonly firstDeployed: string;
  readonly lastDeployed: string;
  readonly description: string;
  readonly notes: string;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** A release from helm's JSON; undefined when it is not one. */
export function parseRelease(json: unknown): StoredRelease | undefined {
  if (!isRecord(json) || typeof json.name !== 'string') return undefined;
  const info = isRecord(json.info) ? json.info : {};
  const chart = isRecord(json.chart) ? json.chart : {};
  const metadata = isRecord(chart.metadata) ? chart.metadata : {};
  return {
    name: json.name,
    namespace: str(json.namespace),
    version: typeof json.version === 'number' ? json.version : 0,
    status: str(info.status),
    chartName: str(metadata.name),
    chartVersion: str(metadata.version),
    values: isRecord(json.config) ? json.config : {},
    firstDeployed: str(info.first_deployed),
    lastDeployed: str(info.last_deployed),
    description: str(info.description),
    notes: str(info.notes),
  };
}

/** Deep equality of JSON values (object key order does not matter). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  }
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => k in b && sameJson(a[k], b[k]));
  }
  return a === b;
}

/** The chart's name as helm records it: the last path segment (`oci://host/charts/web` → `web`). */
const chartNameOf = (chart: string): string => chart.split('/').at(-1) ?? chart;

export type ReleaseStep =
  /** Nothing stored: status pending-install, then install (step 8). */
  | { readonly kind: 'install' }
  /**
   * Uninstall, then install afresh: atomic and the last release is not deployed (step 7), or a release
   * stuck in pending-install (below).
   */
  | { readonly kind: 'reinstall' }
  /** The release differs from the HelmRelease (step 9). */
  | { readonly kind: 'upgrade'; readonly why: string }
  /** Up to date: report the stored release. */
  | { readonly kind: 'none' }
  /** Pending, and a helm may still be running on it (an earlier leader's, or an operator's): later. */
  | { readonly kind: 'busy'; readonly why: string }
  /** Stuck in pending-upgrade / pending-rollback: back to the previous revision, then decide again. */
  | { readonly kind: 'rollback' };

/**
 * How long after its start an operation of ours can still be running (deadline, grace, a minute for
 * clocks): beyond, a pending release is stuck (its helm was killed with the agent's container, or by
 * SIGKILL), and no helm of any replica is still working on it.
 */
export const stuckAfterMs = (timeoutSeconds: number): number =>
  helmDeadlineMs(timeoutSeconds) + helmGraceMs(timeoutSeconds) + 60_000;

/**
 * A release in pending-install / pending-upgrade / pending-rollback that no helm is working on any more:
 * helm started the operation (`last_deployed`) longer ago than any run of ours may last. An unreadable
 * time is never stuck (nothing is undone on a guess).
 */
export function stuckPending(stored: StoredRelease, timeoutSeconds: number, nowMs: number): boolean {
  if (!stored.status.startsWith('pending-')) return false;
  const started = Date.parse(stored.lastDeployed);
  return Number.isFinite(started) && nowMs - started > stuckAfterMs(timeoutSeconds);
}

/**
 * Spec §7.4 steps 7–9, and releases left pending. The Go agent leaves those alone (every upgrade then
 * fails "another operation is in progress", forever); here one that is stuck is recovered as an operator
 * would: a pending-install (nothing was ever deployed from it) is uninstalled and installed afresh, a
 * pending-upgrade or pending-rollback is rolled back to the previous revision and then upgraded.
 * One that may still be worked on waits.
 */
export function decideRelease(plan: ReleasePlan, stored: StoredRelease | undefined, nowMs: number): ReleaseStep {
  if (stored === undefined) return { kind: 'install' };
  if (stored.status.startsWith('pending-')) {
    if (!stuckPending(stored, plan.timeoutSeconds, nowMs)) {
      return {
        kind: 'busy',
        why: `release ${stored.name} is ${stored.status} since ${stored.lastDeployed || 'an unknown time'}: another helm operation may still be running on it (it counts as stuck ${String(stuckAfterMs(plan.timeoutSeconds) / 1000)}s after it started)`,
      };
    }
    return stored.status === 'pending-install' ? { kind: 'reinstall' } : { kind: 'rollback' };
  }
  if (plan.atomic && stored.status !== 'deployed') return { kind: 'reinstall' };
  const why: string[] = [];
  if (stored.name !== plan.releaseName) why.push('release name');
  if (stored.namespace !== plan.namespace) why.push('namespace');
  if (stored.chartName !== chartNameOf(plan.chart)) why.push('chart');
  // An empty spec.version never equals the chart's version: it always upgrades to the latest (as Go).
  if (plan.version === '' || plan.version !== stored.chartVersion) why.push('chart version');
  if (!sameJson(stored.values, plan.values)) why.push('values');
  return why.length === 0 ? { kind: 'none' } : { kind: 'upgrade', why: why.join(', ') };
}

/** The documents of a multi-document YAML text (`---` separators), blank or comment-only ones dropped. */
export function yamlDocuments(text: string): string[] {
  return text
    .split(/^---[^\S\n]*(?:#.*)?$/m)
    .filter((doc) => doc.split('\n').some((l) => l.trim() !== '' && !l.trim().startsWith('#')))
    .map((doc) => doc.replace(/^\n+/, ''));
}

// ---------------------------------------------------------------------------------------------------
// Status written back

/**
 * Go's `time.Time.String()` form (`2006-01-02 15:04:05.999999999 -0700 MST`) of an RFC 3339 time as helm
 * prints it. The zone abbreviation is `UTC` for UTC, otherwise the offset (Go's form for unnamed zones).
 */
export function goTimeString(rfc3339: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(rfc3339);
  if (m === null) return rfc3339;
  const [, date = '', time = '', frac = '', zone = 'Z'] = m;
  const fraction = frac.replace(/0+$/, '');
  const offset = zone === 'Z' ? '+0000' : zone.replace(':', '');
  const abbreviation = offset === '+0000' ? 'UTC' : offset;
  return `${date} ${time}${fraction === '' ? '' : `.${fraction}`} ${offset} ${abbreviation}`;
}

/** The HelmRelease status of a stored release (step 11). */
export function releaseStatus(r: StoredRelease): HelmReleaseStatus {
  return {
    phase: r.status,
    version: r.version,
    ...(r.firstDeployed === '' ? {} : { firstDeployed: goTimeString(r.firstDeployed) }),
    ...(r.lastDeployed === '' ? {} : { lastDeployed: goTimeString(r.lastDeployed) }),
    description: r.description,
    notes: r.notes,
  };
}

/**
 * The status of a failed reconcile (spec §7.4 steps 5, 11): `{phase: failed, notes: <error>}` and nothing
 * else, as the Go agent replaces the whole status (the revision and times of an older release would
 * describe a release that is not the outcome).
 */
export function failedStatus(error: string): HelmReleaseStatus {
  return { phase: 'failed', notes: error };
}

/** An intermediate phase (pending-install, pending-upgrade, uninstalling), the rest kept. */
export function phaseStatus(current: HelmReleaseStatus | undefined, phase: string): HelmReleaseStatus {
  return { ...current, phase };
}

/** The status to write, or undefined when the stored one already says it. */
export function nextHelmReleaseStatus(
  current: HelmReleaseStatus | undefined,
  next: HelmReleaseStatus,
): HelmReleaseStatus | undefined {
  return sameJson(current ?? {}, next) ? undefined : next;
}

/** Owner Description phase for a HelmRelease phase (spec §7.4 step 12). */
export function ownerDescriptionStatus(status: HelmReleaseStatus): { phase: string; reason: string } {
  const notes = status.notes ?? '';
  switch (status.phase) {
    case 'deployed':
      return { phase: 'Success', reason: '' };
    case 'pending-install':
      return { phase: 'Installing', reason: '' };
    case 'pending-upgrade':
      return { phase: 'Upgrading', reason: '' };
    case 'uninstalling':
      return { phase: 'Uninstalling', reason: '' };
    case 'superseded':
      return { phase: 'Superseded', reason: notes };
    case 'failed':
      return { phase: 'Failure', reason: notes };
    default:
      return { phase: 'Unknown', reason: notes };
  }
}

/** The owner Description status to write, or undefined when it already says it (manifest statuses kept). */
export function nextOwnerStatus(
  current: DescriptionStatus | undefined,
  phase: { phase: string; reason: string },
): DescriptionStatus | undefined {
  if (current?.phase === phase.phase && (current.reason ?? '') === phase.reason) return undefined;
  return { ...current, phase: phase.phase, reason: phase.reason };
}

/** `<ns>/<name>` of the owner Description: the controller ownerReference of kind Description. */
export function ownerDescriptionKey(hr: HelmRelease): { key: string; uid: string } | undefined {
  const ref = hr.metadata.ownerReferences?.find((r) => r.controller === true && r.kind === 'Description');
  if (ref?.name === undefined || ref.name === '' || ref.uid === undefined) return undefined;
  return { key: `${hr.metadata.namespace ?? ''}/${ref.name}`, uid: ref.uid };
}

// ---------------------------------------------------------------------------------------------------
// HelmCharts (spec §7.2): a spec change queues the Descriptions whose `apps.clusternet.io/config.uid`
// label is one of the HelmChart's label keys with the value `Base`.

export const configUidLabel = 'apps.clusternet.io/config.uid';

/** Enqueue rule of a HelmChart event: additions, deletions and spec changes. */
export function helmChartChanged(before: HelmChart | undefined, after: HelmChart | undefined): boolean {
  if (before === undefined || after === undefined) return true;
  return !sameJson(before.spec ?? null, after.spec ?? null) || after.metadata.deletionTimestamp !== undefined;
}

/** The keys of the Descriptions a HelmChart change queues again. */
export function descriptionsOfHelmChart(
  chart: HelmChart,
  descriptions: Iterable<readonly [key: string, labels: Readonly<Record<string, string>> | undefined]>,
): string[] {
  const bases = new Set(
    Object.entries(chart.metadata.labels ?? {})
      .filter(([, v]) => v === 'Base')
      .map(([k]) => k),
  );
  if (bases.size === 0) return [];
  const out: string[] = [];
  for (const [key, labels] of descriptions) {
    const uid = labels?.[configUidLabel];
    if (uid !== undefined && bases.has(uid)) out.push(key);
  }
  return out;
}
