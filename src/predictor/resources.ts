// Resource names and amounts as the predictor counts them (spec predictor §3): cpu in millicores,
// memory and ephemeral storage in bytes, pods as a count, and the scalar resources (extended resources
// such as nvidia.com/gpu, hugepages, attachable volumes, other `kubernetes.io/` names) as integers.
// Every quantity rounds up, as Go's `MilliValue`/`Value` do. Pure.

import { parseQuantity } from '../kube/quantity.ts';

export type ResourceKind = 'cpu' | 'memory' | 'ephemeral-storage' | 'pods' | 'scalar';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** A DNS-1123 subdomain, as Kubernetes validates a qualified name's prefix. */
function isSubdomain(s: string): boolean {
  return s.length <= 253 && s.split('.').every((l) => DNS1123_LABEL.test(l));
}

/** `[prefix/]name` as Kubernetes' IsQualifiedName accepts it. */
function isQualifiedName(s: string): boolean {
  const parts = s.split('/');
  if (parts.length > 2) return false;
  const name = parts.length === 2 ? (parts[1] ?? '') : s;
  if (parts.length === 2 && (parts[0] === '' || !isSubdomain(parts[0] ?? ''))) return false;
  return name.length > 0 && name.length <= 63 && QUALIFIED_NAME_PART.test(name);
}

/** Kubernetes' IsScalarResourceName: extended, hugepages, prefixed native, attachable volumes. */
export function isScalarResource(name: string): boolean {
  if (name.startsWith('hugepages-') || name.startsWith('attachable-volumes-')) return true;
  if (name.includes('kubernetes.io/')) return true;
  // Extended: not native (has a '/', no kubernetes.io/), not `requests.*`, and `requests.<name>` qualified.
  return name.includes('/') && !name.startsWith('requests.') && isQualifiedName(`requests.${name}`);
}

/** How a resource name is counted; undefined for names the predictor drops. */
export function resourceKind(name: string): ResourceKind | undefined {
  switch (name) {
    case 'cpu':
    case 'memory':
    case 'ephemeral-storage':
    case 'pods':
      return name;
    default:
      return isScalarResource(name) ? 'scalar' : undefined;
  }
}

const NANO = 1_000_000_000n;
const NANO_PER_MILLI = 1_000_000n;

const ceilDiv = (a: bigint, b: bigint): bigint => {
  const q = a / b;
  return a % b !== 0n && a > 0n ? q + 1n : q;
};

/** A parsed quantity as the predictor counts it: millicores for cpu, whole units (rounded up) else. */
export function countOf(kind: ResourceKind, quantity: string): number {
  const nano = parseQuantity(quantity).nano;
  return Number(ceilDiv(nano, kind === 'cpu' ? NANO_PER_MILLI : NANO));
}

/** Amounts of the named resources (cpu in millicores); absent entries are 0. */
export interface Amounts {
  cpu: number;
  memory: number;
  ephemeralStorage: number;
  pods: number;
  /** Scalar resources by name; undefined when there are none. */
  scalars: Map<string, number> | undefined;
}

export const emptyAmounts = (): Amounts => ({ cpu: 0, memory: 0, ephemeralStorage: 0, pods: 0, scalars: undefined });

/** Adds `n` of resource `name` (of `kind`) to `a`. */
export function addAmount(a: Amounts, kind: ResourceKind, name: string, n: number): void {
  switch (kind) {
    case 'cpu':
      a.cpu += n;
      return;
    case 'memory':
      a.memory += n;
      return;
    case 'ephemeral-storage':
      a.ephemeralStorage += n;
      return;
    case 'pods':
      a.pods += n;
      return;
    case 'scalar':
      a.scalars ??= new Map();
      a.scalars.set(name, (a.scalars.get(name) ?? 0) + n);
  }
}

export function amountOf(a: Amounts, kind: ResourceKind, name: string): number {
  switch (kind) {
    case 'cpu':
      return a.cpu;
    case 'memory':
      return a.memory;
    case 'ephemeral-storage':
      return a.ephemeralStorage;
    case 'pods':
      return a.pods;
    case 'scalar':
      return a.scalars?.get(name) ?? 0;
  }
}

function setAmount(a: Amounts, kind: ResourceKind, name: string, n: number): void {
  addAmount(a, kind, name, n - amountOf(a, kind, name));
}

/**
 * A resource list (`{cpu: "500m", ...}`) as amounts; names the predictor drops are left out.
 * Throws on a quantity Kubernetes would reject (only request bodies can carry one).
 */
export function amountsOf(list: Readonly<Record<string, string>> | undefined): Amounts {
  const a = emptyAmounts();
  if (list === undefined) return a;
  for (const [name, q] of Object.entries(list)) {
    const kind = resourceKind(name);
    if (kind !== undefined) addAmount(a, kind, name, countOf(kind, q));
  }
  return a;
}

/** Each resource of `from` into `into`: `combine(into[r], from[r])`. */
export function mergeAmounts(into: Amounts, from: Amounts, combine: (a: number, b: number) => number): void {
  into.cpu = combine(into.cpu, from.cpu);
  into.memory = combine(into.memory, from.memory);
  into.ephemeralStorage = combine(into.ephemeralStorage, from.ephemeralStorage);
  into.pods = combine(into.pods, from.pods);
  if (from.scalars !== undefined) {
    for (const [name, n] of from.scalars) setAmount(into, 'scalar', name, combine(into.scalars?.get(name) ?? 0, n));
  }
}

/**
 * A resource list of an object the apiserver validated (a node's allocatable, a pod's requests) as
 * amounts; `pods` left out unless `withPods`; a quantity that does not parse counts as absent.
 */
export function storedAmounts(list: Readonly<Record<string, string>> | undefined, withPods: boolean): Amounts {
  const a = emptyAmounts();
  for (const [name, q] of Object.entries(list ?? {})) {
    const kind = resourceKind(name);
    if (kind === undefined || (kind === 'pods' && !withPods)) continue;
    try {
      addAmount(a, kind, name, countOf(kind, q));
    } catch {
      // left out
    }
  }
  return a;
}
