// Pure decisions of the deployer (spec §1.5, §7): who deploys, what a Description asks for, how its
// manifests are prepared for the child, what status goes back, and the per-key work queue.

export type SyncMode = 'Push' | 'Pull' | 'Dual';

export const finalizer = 'apps.clusternet.io/finalizer';
export const ownedByAnnotation = 'apps.clusternet.io/owned-by-description';
export const lastAppliedAnnotation = 'clusternet.io/last-applied-configuration';
const kubectlLastApplied = 'kubectl.kubernetes.io/last-applied-configuration';
/** Set by the apiserver; an apply must not carry them (resourceVersion would be a precondition). */
const serverSetMetadata = new Set([
  'creationTimestamp',
  'uid',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'selfLink',
  'resourceVersion',
  'managedFields',
  'generation',
]);

export interface DeployerRole {
  /** The agent applies the Descriptions of its dedicated namespace to the child. */
  readonly deploys: boolean;
  /** The `child-cluster-deployer` Secret is published (latest: always, the controller-manager prunes). */
  readonly publishesDeployerSecret: boolean;
}

/** The matrix of spec §1.5: Pull always deploys, Dual only with AppPusher off, Push never. */
export function deployerRole(syncMode: SyncMode, appPusher: boolean): DeployerRole {
  const deploys = syncMode === 'Pull' || (syncMode === 'Dual' && !appPusher);
  return { deploys, publishesDeployerSecret: true };
}

// ---------------------------------------------------------------------------------------------------
// Descriptions

export interface ObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly deletionTimestamp?: string;
  readonly finalizers?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface ManifestStatus {
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespace: string;
  readonly name: string;
  readonly observedStatus?: unknown;
}

export interface DescriptionStatus {
  readonly phase?: string;
  readonly reason?: string;
  readonly manifestStatuses?: readonly ManifestStatus[];
}

export interface Description {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta;
  readonly spec?: { readonly deployer?: string; readonly raw?: readonly string[] };
  readonly status?: DescriptionStatus;
}

export type DescriptionAction =
  /** Not ours to do anything with (Helm, not deployable here, or being deleted without our finalizer). */
  | 'skip'
  /** Add our finalizer first (every sync mode, spec §7.3 step 1), then decide again. */
  | 'injectFinalizer'
  /** A real deletion in the parent: delete the objects in the child, then remove the finalizer. */
  | 'offload'
  | 'apply';

export type LifecycleStep = 'skip' | 'injectFinalizer' | 'remove' | 'converge';

/**
 * The shared first steps of both controllers: our finalizer first (every sync mode, even when the agent
 * does not deploy), nothing for an object deleted without it; otherwise, when the agent acts on it,
 * `remove` for a real deletion and `converge` for the rest.
 */
export function lifecycleStep(meta: ObjectMeta, acts: boolean): LifecycleStep {
  const hasFinalizer = meta.finalizers?.includes(finalizer) ?? false;
  const deleting = meta.deletionTimestamp !== undefined;
  if (!hasFinalizer) return deleting ? 'skip' : 'injectFinalizer';
  if (!acts) return 'skip';
  return deleting ? 'remove' : 'converge';
}

export function decideDescription(d: Description, deploys: boolean): DescriptionAction {
  const step = lifecycleStep(d.metadata, deploys && d.spec?.deployer === 'Generic');
  return step === 'remove' ? 'offload' : step === 'converge' ? 'apply' : step;
}

export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta & Readonly<Record<string, unknown>>;
  readonly [field: string]: unknown;
}

export type DecodedManifest =
  | { readonly ok: true; readonly object: KubeObject }
  | { readonly ok: false; readonly index: number; readonly error: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `spec.raw`: base64 strings, each one JSON Kubernetes object (spec §7.2). `decode` turns base64 into text. */
export function decodeManifests(
  raw: readonly unknown[] | undefined,
  decode: (base64: string) => string,
): DecodedManifest[] {
  return (raw ?? []).map((entry, index): DecodedManifest => {
    const bad = (why: string): DecodedManifest => ({ ok: false, index, error: `manifest ${String(index)}: ${why}` });
    if (typeof entry !== 'string') return bad('not a base64 string');
    let value: unknown;
    try {
      value = JSON.parse(decode(entry));
    } catch (err) {
      return bad(`not a JSON object (${err instanceof Error ? err.message : String(err)})`);
    }
    if (!isRecord(value)) return bad('not a JSON object');
    const { apiVersion, kind, metadata } = value;
    if (typeof apiVersion !== 'string' || apiVersion === '') return bad('no apiVersion');
    if (typeof kind !== 'string' || kind === '') return bad('no kind');
    if (!isRecord(metadata) || typeof metadata.name !== 'string' || metadata.name === '') {
      return bad(`${kind} without metadata.name`);
    }
    return { ok: true, object: value as unknown as KubeObject };
  });
}

/**
 * The object as it is applied to the child (spec §7.3 apply steps 2–3): server-set fields cleared,
 * kubectl's last-applied dropped, the owner annotation the controller-manager and Recovery rely on,
 * and the last-applied text the Go agent keeps (so a Go agent taking over finds what it expects).
 */
export function prepareManifest(object: KubeObject, descNamespace: string, descName: string): KubeObject {
  const meta = Object.fromEntries(
    Object.entries(object.metadata).filter(([k]) => !serverSetMetadata.has(k)),
  ) as KubeObject['metadata'];
  const annotations: Record<string, string> = Object.fromEntries(
    Object.entries(object.metadata.annotations ?? {}).filter(
      ([k]) => k !== kubectlLastApplied && k !== lastAppliedAnnotation,
    ),
  );
  annotations[ownedByAnnotation] = `${descNamespace}.${descName}`;
  const rest = Object.fromEntries(Object.entries(object).filter(([k]) => k !== 'status' && k !== 'metadata'));
  const withOwner = { ...rest, apiVersion: object.apiVersion, kind: object.kind, metadata: { ...meta, annotations } };
  return {
    ...withOwner,
    metadata: { ...meta, annotations: { ...annotations, [lastAppliedAnnotation]: JSON.stringify(withOwner) } },
  };
}

/** `<ns>.<name>` of the owner annotation, split as the Go agent does (first two parts). */
export function ownerKey(annotations: Readonly<Record<string, string>> | undefined): string | undefined {
  const v = annotations?.[ownedByAnnotation];
  if (v === undefined) return undefined;
  const [ns, name] = v.split('.');
  return ns === undefined || name === undefined || ns === '' || name === '' ? undefined : `${ns}/${name}`;
}

export interface ManifestOutcome {
  readonly ref: string;
  readonly error?: string;
}

/** Success when every manifest was applied; otherwise Failure with every error, in order. */
export function descriptionPhase(outcomes: readonly ManifestOutcome[]): { phase: string; reason: string } {
  const errors = outcomes.flatMap((o) => (o.error === undefined ? [] : [o.error]));
  return errors.length === 0 ? { phase: 'Success', reason: '' } : { phase: 'Failure', reason: errors.join('; ') };
}

const canonical = (v: unknown): string => JSON.stringify(v ?? null);

/** The status to write, or undefined when the stored one already says it (no useless writes). */
export function nextDescriptionStatus(
  current: DescriptionStatus | undefined,
  phase: { phase: string; reason: string },
  observed: readonly ManifestStatus[] | undefined,
): DescriptionStatus | undefined {
  const manifestStatuses =
    observed === undefined ? current?.manifestStatuses : mergeManifestStatuses(current?.manifestStatuses, observed);
  const next: DescriptionStatus = {
    ...current,
    phase: phase.phase,
    reason: phase.reason,
    ...(manifestStatuses === undefined ? {} : { manifestStatuses }),
  };
  const same =
    current?.phase === next.phase &&
    (current?.reason ?? '') === next.reason &&
    canonical(current?.manifestStatuses) === canonical(next.manifestStatuses);
  return same ? undefined : next;
}

/** Observed statuses replace those of the same object (namespace/name/kind); new ones are appended. */
export function mergeManifestStatuses(
  current: readonly ManifestStatus[] | undefined,
  observed: readonly ManifestStatus[],
): ManifestStatus[] {
  const key = (m: ManifestStatus): string => `${m.apiVersion}|${m.kind}|${m.namespace}|${m.name}`;
  const byKey = new Map(observed.map((m) => [key(m), m]));
  const out = (current ?? []).map((m) => byKey.get(key(m)) ?? m);
  const present = new Set(out.map(key));
  for (const m of observed) if (!present.has(key(m))) out.push(m);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The work queue: a key is queued at most once, processed by one worker at a time; a change that
// arrives while it is processed marks it dirty and it is queued again when the worker finishes.

export interface WorkQueue {
  readonly pending: readonly string[];
  readonly active: readonly string[];
  readonly dirty: readonly string[];
}

export const emptyQueue: WorkQueue = { pending: [], active: [], dirty: [] };

export function enqueue(q: WorkQueue, key: string): WorkQueue {
  if (q.active.includes(key)) return q.dirty.includes(key) ? q : { ...q, dirty: [...q.dirty, key] };
  if (q.pending.includes(key)) return q;
  return { ...q, pending: [...q.pending, key] };
}

/** What a work key is the work of: each controller has workers of its own (spec §7.1.6). */
export type WorkKind = 'Description' | 'HelmRelease';

/** Reconcile workers at most, per kind. */
export type WorkerLimits = Readonly<Record<WorkKind, number>>;

/** Spec §7.1.6: 2 workers for each of the Description and HelmRelease controllers. */
export const defaultWorkerLimits: WorkerLimits = { Description: 2, HelmRelease: 2 };

/**
 * Moves keys from pending to active, in order, while their kind has a free worker (a slow helm run
 * never holds up Descriptions, nor the other way round); returns the started keys.
 */
export function takeWork(
  q: WorkQueue,
  limits: WorkerLimits,
  kindOf: (key: string) => WorkKind,
): { queue: WorkQueue; started: string[] } {
  const busy: Record<WorkKind, number> = { Description: 0, HelmRelease: 0 };
  for (const k of q.active) busy[kindOf(k)]++;
  const started: string[] = [];
  for (const k of q.pending) {
    const kind = kindOf(k);
    if (busy[kind] >= limits[kind]) continue;
    busy[kind]++;
    started.push(k);
  }
  if (started.length === 0) return { queue: q, started };
  const taken = new Set(started);
  return {
    queue: { ...q, pending: q.pending.filter((k) => !taken.has(k)), active: [...q.active, ...started] },
    started,
  };
}

/** A worker finished `key`: it leaves active, and is queued again if it changed meanwhile. */
export function finishWork(q: WorkQueue, key: string): WorkQueue {
  const active = q.active.filter((k) => k !== key);
  if (!q.dirty.includes(key)) return { ...q, active };
  const dirty = q.dirty.filter((k) => k !== key);
  return enqueue({ ...q, active, dirty }, key);
}

/** A work queue's state in a machine's context: the queue, each key's failures in a row, the reconciles done. */
export interface WorkState {
  readonly queue: WorkQueue;
  readonly failures: Readonly<Record<string, number>>;
  readonly reconciled: number;
}

/** How a worker ended. */
export type WorkEnd =
  | { readonly type: 'work.done'; readonly key: string }
  | { readonly type: 'work.failed'; readonly key: string; readonly message: string };

/**
 * A worker ended (the deployer's and the syncer's queues alike): its slot is free, its key queued again
 * if it changed meanwhile, the next keys started (`take`: the machine's worker limits); a success
 * clears the key's failures and counts, a failure adds one and is the last failure.
 */
export function settleWork(
  s: WorkState,
  end: WorkEnd,
  take: (q: WorkQueue) => { queue: WorkQueue; started: string[] },
): { readonly next: WorkState & { readonly lastFailure?: string }; readonly started: string[] } {
  const failures: Record<string, number> = Object.fromEntries(
    Object.entries(s.failures).filter(([k]) => k !== end.key),
  );
  if (end.type === 'work.failed') failures[end.key] = (s.failures[end.key] ?? 0) + 1;
  const { queue, started } = take(finishWork(s.queue, end.key));
  return {
    next: {
      queue,
      failures,
      reconciled: s.reconciled + (end.type === 'work.done' ? 1 : 0),
      ...(end.type === 'work.failed' ? { lastFailure: end.message } : {}),
    },
    started,
  };
}

/** What the enqueue rule looks at: Descriptions and HelmReleases alike. */
export interface Watched {
  readonly metadata: ObjectMeta;
  readonly spec?: unknown;
}

/**
 * Enqueue rule for a Description or HelmRelease event (spec §7.2, both controllers): additions and
 * deletions always; updates only when the spec changed (generation), deletion started, or our finalizer
 * went missing — so the agent's own status writes do not queue the object again.
 */
export function descriptionNeedsWork(before: Watched | undefined, after: Watched | undefined): boolean {
  if (before === undefined || after === undefined) return true;
  return (
    before.metadata.generation !== after.metadata.generation ||
    canonical(before.spec) !== canonical(after.spec) ||
    (after.metadata.deletionTimestamp !== undefined && before.metadata.deletionTimestamp === undefined) ||
    !(after.metadata.finalizers?.includes(finalizer) ?? false)
  );
}

// ---------------------------------------------------------------------------------------------------
// Status writes to the parent

/** What follows one PUT …/status (spec §7.3, §7.4 step 11). */
export type StatusWriteStep =
  /** 200: written. */
  | 'written'
  /** 404: the object is gone; nothing to write. */
  | 'gone'
  /** 409 with attempts left: read the object again and write again. */
  | 'reread'
  /** Any other answer, or a conflict on the last attempt: the write fails. */
  | 'fail';

/**
 * The decision after attempt `attempt` (1-based) of a status write answered with HTTP `status`, at
 * most `maxAttempts` attempts (statusWriteAttempts, machines/deployer/timing.ts).
 */
export function afterStatusWrite(status: number, attempt: number, maxAttempts: number): StatusWriteStep {
  if (status === 200) return 'written';
  if (status === 404) return 'gone';
  return status === 409 && attempt < maxAttempts ? 'reread' : 'fail';
}

// ---------------------------------------------------------------------------------------------------
// Recovery's watches of the applied kinds (spec §7.5)

/**
 * The Recovery kinds to list again before their next watch, after `what` happened to `resource`'s watch:
 * an expired one (410 Gone: changes were missed) is listed again, and stays so through failed attempts
 * until a watch of the kind is open (`watching`).
 */
export function driftRelistsAfter(
  relists: readonly string[],
  resource: string,
  what: 'ended' | 'expired' | 'failed' | 'watching',
): readonly string[] {
  const listed = relists.includes(resource);
  if (what === 'expired') return listed ? relists : [...relists, resource];
  if (what === 'watching' && listed) return relists.filter((r) => r !== resource);
  return relists;
}

/** How a Recovery kind's watch starts. */
export type DriftWatchStart =
  /** A full list, every owned object the agent did not write last counting as drift; watch from its version. */
  | 'relist'
  /** From where the last watch of the kind ended (bookmarks move it on). */
  | 'resume'
  /** The kind's first watch: from the current resourceVersion (a list of one item), no burst of ADDED events. */
  | 'current';

/** The decision: `relist` when the chart says the kind expired, else resume where known, else start now. */
export function driftWatchStart(resourceVersion: string | undefined, relist: boolean): DriftWatchStart {
  if (relist) return 'relist';
  return resourceVersion === undefined ? 'current' : 'resume';
}
