// Pure decisions of the multi-cluster service syncer (spec §7.7): the derived service name, whether the
// child is new enough, what a ServiceExport asks for, the EndpointSlices the parent should hold for it,
// and the writes that bring the parent there. Follows Clusternet's ServiceExport controller
// (pkg/controllers/mcs/serviceexport_controller.go, pkg/utils/{names,endpointslice}.go).

import { finalizer, type WorkQueue } from '../deployer/decisions.ts';
import { base32hex, sha256 } from './sha256.ts';

export { finalizer };

/** The EndpointSlice controller's label naming a slice's Service (discovery.k8s.io/v1). */
export const serviceNameLabel = 'kubernetes.io/service-name';
export const mcsServiceNameLabel = 'services.clusternet.io/multi-cluster-service-name';
export const mcsServiceNamespaceLabel = 'services.clusternet.io/multi-cluster-service-namespace';
export const createdByLabel = 'clusternet.io/created-by';
export const agentName = 'clusternet-agent';
/** Copied from the ServiceExport to its parent slices when present (set by a Subscription's deploy). */
export const subscriptionNamespaceLabel = 'apps.clusternet.io/subs.namespace';

export interface ObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  readonly resourceVersion?: string;
  readonly deletionTimestamp?: string;
  readonly finalizers?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
}

export interface ServiceExport {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta;
  readonly [field: string]: unknown;
}

export interface EndpointSlice {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta;
  readonly addressType?: string;
  readonly endpoints?: readonly unknown[] | null;
  readonly ports?: readonly unknown[] | null;
}

/**
 * The service name the parent slices carry (label kubernetes.io/service-name): `derived-<namespace>-`
 * and the first 10 characters of lower-case, unpadded base32hex of SHA-256 of the name (the namespace
 * is not hashed). Clusternet's utils.DerivedName; e.g. test/my-service → derived-test-sgvukfmp95.
 */
export function derivedServiceName(namespace: string, name: string): string {
  const hash = base32hex(sha256(new TextEncoder().encode(name)))
    .toLowerCase()
    .slice(0, 10);
  return `derived-${namespace}-${hash}`;
}

/** A parent slice's name: `<ServiceExport namespace>-<child slice name>`. */
export const parentSliceName = (exportNamespace: string, childSliceName: string): string =>
  `${exportNamespace}-${childSliceName}`;

// ---------------------------------------------------------------------------------------------------
// The child's version: the Go agent runs the syncer only on Kubernetes ≥ v1.21.0-beta.1 (discovery.k8s.io/v1).

export type ChildSupport = 'supported' | 'tooOld' | 'unparsable';

interface Semver {
  readonly core: readonly [number, number, number];
  readonly pre: readonly string[];
}

function parseSemver(v: string): Semver | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(v.trim());
  if (m === null) return undefined;
  return { core: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] === undefined ? [] : m[4].split('.') };
}

/** Semantic-version precedence (semver 2.0.0 §11), as Go's k8s.io/apimachinery/pkg/util/version compares. */
function compareSemver(a: Semver, b: Semver): number {
  for (let i = 0; i < 3; i++) {
    const d = (a.core[i] ?? 0) - (b.core[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (a.pre.length === 0 || b.pre.length === 0) return Math.sign(b.pre.length - a.pre.length);
  for (let i = 0; i < Math.max(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i];
    const y = b.pre[i];
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) {
      const d = Number(x) - Number(y);
      if (d !== 0) return Math.sign(d);
    } else if (xn !== yn) {
      return xn ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

const minimumChild = parseSemver('v1.21.0-beta.1') ?? { core: [1, 21, 0], pre: ['beta', '1'] };

/** Whether the child (its /version gitVersion) runs the syncer (spec §7.7: ≥ v1.21.0-beta.1). */
export function childSupport(gitVersion: string): ChildSupport {
  const v = parseSemver(gitVersion);
  if (v === undefined) return 'unparsable';
  return compareSemver(v, minimumChild) >= 0 ? 'supported' : 'tooOld';
}

// ---------------------------------------------------------------------------------------------------
// A ServiceExport's reconcile

export type ExportStep =
  /** Add our finalizer to the ServiceExport in the child (before anything is written to the parent). */
  | 'addFinalizer'
  /** Make the parent slices match the child's slices of the Service. */
  | 'sync'
  /** Delete every parent slice of the derived service name (a delete-collection by label). */
  | 'deleteSlices'
  /** Remove our finalizer: the ServiceExport can go. */
  | 'removeFinalizer';

/**
 * What a ServiceExport asks for, in order. Being deleted: the parent slices go, then our finalizer (a
 * ServiceExport deleted without it — nothing of ours can remain but what a forced removal left — still
 * has its slices deleted, as Go does). Otherwise: our finalizer first, then the sync.
 */
export function exportSteps(meta: ObjectMeta): readonly ExportStep[] {
  const ours = meta.finalizers?.includes(finalizer) ?? false;
  if (meta.deletionTimestamp !== undefined) return ours ? ['deleteSlices', 'removeFinalizer'] : ['deleteSlices'];
  return ours ? ['sync'] : ['addFinalizer', 'sync'];
}

/** The ServiceExport with our finalizer added (`add`) or removed; everything else as read. */
export function withFinalizer(se: ServiceExport, add: boolean): ServiceExport {
  const others = (se.metadata.finalizers ?? []).filter((f) => f !== finalizer);
  return { ...se, metadata: { ...se.metadata, finalizers: add ? [...others, finalizer] : others } };
}

/** The parent's copy of one child slice of an exported Service (Go's constructEndpointSlice). */
export function parentSlice(child: EndpointSlice, se: ServiceExport, dedicatedNamespace: string): EndpointSlice {
  const seNamespace = se.metadata.namespace ?? '';
  const seName = se.metadata.name ?? '';
  const subs = se.metadata.labels?.[subscriptionNamespaceLabel];
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: parentSliceName(seNamespace, child.metadata.name ?? ''),
      namespace: dedicatedNamespace,
      labels: {
        [mcsServiceNameLabel]: seName,
        [mcsServiceNamespaceLabel]: seNamespace,
        [createdByLabel]: agentName,
        [serviceNameLabel]: derivedServiceName(seNamespace, seName),
        ...(subs === undefined ? {} : { [subscriptionNamespaceLabel]: subs }),
      },
    },
    addressType: child.addressType ?? '',
    endpoints: child.endpoints ?? [],
    ports: child.ports ?? [],
  };
}

/** Whether a child slice belongs to the exported Service (same namespace, kubernetes.io/service-name = its name). */
export const sliceOfExport = (slice: EndpointSlice, se: ServiceExport): boolean =>
  slice.metadata.namespace === se.metadata.namespace && slice.metadata.labels?.[serviceNameLabel] === se.metadata.name;

/** The parent slices the ServiceExport should have: one per child slice of its Service, sorted by name. */
export function desiredParentSlices(
  se: ServiceExport,
  childSlices: readonly EndpointSlice[],
  dedicatedNamespace: string,
): EndpointSlice[] {
  return childSlices
    .filter((s) => sliceOfExport(s, se))
    .map((s) => parentSlice(s, se, dedicatedNamespace))
    .sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
}

export interface SlicePlan {
  /** Names of parent slices of the derived service that no child slice stands for any more. */
  readonly delete: readonly string[];
  readonly create: readonly EndpointSlice[];
  /** Existing parent slices with the child's addressType, endpoints and ports (their metadata kept). */
  readonly update: readonly EndpointSlice[];
}

const content = (s: EndpointSlice): string => JSON.stringify([s.addressType ?? '', s.endpoints ?? [], s.ports ?? []]);

/**
 * The writes that make `existing` (the parent slices labelled with the derived service name) match
 * `desired`: stale ones deleted, missing ones created, and those whose addressType, endpoints or ports
 * differ updated — only those three fields, as Go's ApplyEndPointSliceWithRetry updates.
 */
export function planSlices(desired: readonly EndpointSlice[], existing: readonly EndpointSlice[]): SlicePlan {
  const wanted = new Map(desired.map((s) => [s.metadata.name ?? '', s]));
  const present = new Map(existing.map((s) => [s.metadata.name ?? '', s]));
  const del = [...present.keys()].filter((name) => !wanted.has(name)).sort();
  const create: EndpointSlice[] = [];
  const update: EndpointSlice[] = [];
  for (const [name, want] of wanted) {
    const have = present.get(name);
    if (have === undefined) create.push(want);
    else if (content(have) !== content(want)) {
      update.push({
        ...have,
        addressType: want.addressType ?? '',
        endpoints: want.endpoints ?? [],
        ports: want.ports ?? [],
      });
    }
  }
  return { delete: del, create, update };
}

export const planIsEmpty = (p: SlicePlan): boolean =>
  p.delete.length === 0 && p.create.length === 0 && p.update.length === 0;

// ---------------------------------------------------------------------------------------------------
// Enqueue rules for the child watches

/** `<namespace>/<name>`: the work key of a ServiceExport, and of the Service a slice belongs to. */
export const exportKey = (namespace: string, name: string): string => `${namespace}/${name}`;

/** The key of the ServiceExport a child slice would belong to (undefined: the slice names no Service). */
export function exportKeyOfSlice(slice: EndpointSlice): string | undefined {
  const service = slice.metadata.labels?.[serviceNameLabel];
  return service === undefined ? undefined : exportKey(slice.metadata.namespace ?? '', service);
}

/**
 * A ServiceExport event needs a reconcile when it was added or deleted, its deletion started, our
 * finalizer came or went, or the subscription label changed — not for status writes by others, nor
 * for our own finalizer update once it is seen.
 */
export function exportNeedsWork(before: ServiceExport | undefined, after: ServiceExport | undefined): boolean {
  if (before === undefined || after === undefined) return true;
  const has = (se: ServiceExport): boolean => se.metadata.finalizers?.includes(finalizer) ?? false;
  return (
    (before.metadata.deletionTimestamp === undefined) !== (after.metadata.deletionTimestamp === undefined) ||
    has(before) !== has(after) ||
    before.metadata.labels?.[subscriptionNamespaceLabel] !== after.metadata.labels?.[subscriptionNamespaceLabel]
  );
}

/** A child slice event needs its ServiceExport reconciled when what the parent copies of it changed. */
export function sliceNeedsWork(before: EndpointSlice | undefined, after: EndpointSlice | undefined): boolean {
  if (before === undefined || after === undefined) return true;
  return (
    content(before) !== content(after) ||
    before.metadata.labels?.[serviceNameLabel] !== after.metadata.labels?.[serviceNameLabel]
  );
}

// ---------------------------------------------------------------------------------------------------
// The work queue (the deployer's: a key queued once, one worker per key, re-queued when it changed
// while being worked on); here with one pool of workers.

export { emptyQueue, enqueue, finishWork, settleWork, type WorkQueue } from '../deployer/decisions.ts';

/** Moves pending keys to active, in order, while fewer than `workers` are active; returns the started keys. */
export function takeUpTo(q: WorkQueue, workers: number): { queue: WorkQueue; started: string[] } {
  const room = Math.max(0, workers - q.active.length);
  const started = q.pending.slice(0, room);
  if (started.length === 0) return { queue: q, started };
  return { queue: { ...q, pending: q.pending.slice(started.length), active: [...q.active, ...started] }, started };
}
