// The child's ServiceExports and EndpointSlices as the last list and watch showed them (the syncer's
// informer caches), and the list-then-watch that fills each: every change whose enqueue rule says so
// is reported as the key of the ServiceExport to reconcile. Slices are kept reduced to what the parent
// copy is made of (no managedFields, annotations, or labels but the Service's), indexed by Service.

import type { KubeConfig } from '@kubernetes/client-node';
import {
  exportKey,
  exportKeyOfSlice,
  exportNeedsWork,
  serviceNameLabel,
  sliceNeedsWork,
  type EndpointSlice,
  type ServiceExport,
} from '../../machines/mcs/decisions.ts';
import type { McsEvent } from '../../machines/mcs/machine.ts';
import { concatMap, defer, type Observable } from 'rxjs';
import { listPaged, listWatch$, watchPhase } from '../kube/list-watch.ts';
import type { RequestLimiter } from '../kube/request-limiter.ts';

export const serviceExportsPath = '/apis/multicluster.x-k8s.io/v1alpha1/serviceexports';
export const endpointSlicesPath = '/apis/discovery.k8s.io/v1/endpointslices';

interface Named {
  readonly metadata: { readonly name?: string; readonly namespace?: string; readonly resourceVersion?: string };
}

const objectKey = (o: Named): string => exportKey(o.metadata.namespace ?? '', o.metadata.name ?? '');

/**
 * One kind's cache. `keysOf` names the ServiceExports an object's change concerns; `needsWork` is the
 * kind's enqueue rule; `reduce` keeps what is needed of each object.
 */
export class ObjectCache<T extends Named> {
  private items = new Map<string, T>();
  resourceVersion: string | undefined;
  synced = false;
  private readonly keysOf: (o: T) => readonly string[];
  private readonly needsWork: (before: T | undefined, after: T | undefined) => boolean;
  private readonly reduce: (o: T) => T;
  private readonly onSet: (key: string, before: T | undefined, after: T | undefined) => void;

  constructor(opts: {
    keysOf: (o: T) => readonly string[];
    needsWork: (before: T | undefined, after: T | undefined) => boolean;
    reduce?: (o: T) => T;
    /** Told of every change of the contents (the slice index). */
    onSet?: (key: string, before: T | undefined, after: T | undefined) => void;
  }) {
    this.onSet = opts.onSet ?? (() => undefined);
    this.keysOf = opts.keysOf;
    this.needsWork = opts.needsWork;
    this.reduce = opts.reduce ?? ((o) => o);
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }
  get size(): number {
    return this.items.size;
  }
  values(): IterableIterator<T> {
    return this.items.values();
  }

  /** Forgets everything: the next watch starts with a full list (a new leadership term). */
  reset(): void {
    for (const [key, o] of this.items) this.onSet(key, o, undefined);
    this.items.clear();
    this.resourceVersion = undefined;
    this.synced = false;
  }

  /** Keeps a newer copy the agent itself wrote (the finalizer) until the watch brings it. */
  remember(o: T): void {
    const key = objectKey(o);
    const before = this.items.get(key);
    if (before === undefined) return;
    const after = this.reduce(o);
    this.items.set(key, after);
    this.onSet(key, before, after);
  }

  private change(key: string, before: T | undefined, after: T | undefined): string[] {
    if (after === undefined) this.items.delete(key);
    else this.items.set(key, after);
    this.onSet(key, before, after);
    if (!this.needsWork(before, after)) return [];
    return [
      ...new Set([
        ...(before === undefined ? [] : this.keysOf(before)),
        ...(after === undefined ? [] : this.keysOf(after)),
      ]),
    ];
  }

  /** Replaces everything with a full list; returns the ServiceExport keys that need a reconcile. */
  replace(items: readonly T[], resourceVersion: string | undefined): string[] {
    const next = new Map(items.map((o) => [objectKey(o), this.reduce(o)]));
    const keys = new Set<string>();
    for (const [key, before] of [...this.items]) {
      if (!next.has(key)) for (const k of this.change(key, before, undefined)) keys.add(k);
    }
    for (const [key, after] of next) for (const k of this.change(key, this.items.get(key), after)) keys.add(k);
    this.resourceVersion = resourceVersion;
    this.synced = true;
    return [...keys];
  }

  /** Applies one watch event; returns the ServiceExport keys that need a reconcile. */
  apply(phase: string, o: T): string[] {
    this.resourceVersion = o.metadata.resourceVersion ?? this.resourceVersion;
    const key = objectKey(o);
    const before = this.items.get(key);
    if (phase === 'DELETED') return before === undefined ? this.keysOf(o).slice() : this.change(key, before, undefined);
    if (phase !== 'ADDED' && phase !== 'MODIFIED') return [];
    return this.change(key, before, this.reduce(o));
  }
}

export class ExportCache extends ObjectCache<ServiceExport> {
  constructor() {
    super({ keysOf: (se) => [objectKey(se)], needsWork: exportNeedsWork });
  }
}

/** What the parent copy of a slice is made of, and what finds its Service. */
export function reduceSlice(s: EndpointSlice): EndpointSlice {
  const service = s.metadata.labels?.[serviceNameLabel];
  return {
    metadata: {
      ...(s.metadata.name === undefined ? {} : { name: s.metadata.name }),
      ...(s.metadata.namespace === undefined ? {} : { namespace: s.metadata.namespace }),
      ...(s.metadata.resourceVersion === undefined ? {} : { resourceVersion: s.metadata.resourceVersion }),
      ...(service === undefined ? {} : { labels: { [serviceNameLabel]: service } }),
    },
    ...(s.addressType === undefined ? {} : { addressType: s.addressType }),
    endpoints: s.endpoints ?? [],
    ports: s.ports ?? [],
  };
}

export class SliceCache extends ObjectCache<EndpointSlice> {
  /** Slice keys by the key of the Service (`<namespace>/<service>`) they name. */
  private readonly byService: Map<string, Set<string>>;

  constructor() {
    const byService = new Map<string, Set<string>>();
    super({
      keysOf: (s) => {
        const k = exportKeyOfSlice(s);
        return k === undefined ? [] : [k];
      },
      needsWork: sliceNeedsWork,
      reduce: reduceSlice,
      onSet: (key, before, after) => {
        const was = before === undefined ? undefined : exportKeyOfSlice(before);
        const is = after === undefined ? undefined : exportKeyOfSlice(after);
        if (was === is) return;
        if (was !== undefined) {
          const set = byService.get(was);
          set?.delete(key);
          if (set?.size === 0) byService.delete(was);
        }
        if (is !== undefined) {
          let set = byService.get(is);
          if (set === undefined) byService.set(is, (set = new Set()));
          set.add(key);
        }
      },
    });
    this.byService = byService;
  }

  /** The slices of Service `<namespace>/<name>`. */
  ofService(key: string): EndpointSlice[] {
    return [...(this.byService.get(key) ?? [])].flatMap((k) => {
      const s = this.get(k);
      return s === undefined ? [] : [s];
    });
  }
}

export interface CacheWatch<T extends Named> {
  readonly kc: KubeConfig;
  readonly path: string;
  /** For messages: `ServiceExport`, `EndpointSlice`. */
  readonly what: string;
  readonly cache: ObjectCache<T>;
  readonly limiter?: RequestLimiter | undefined;
  /** Whether a ServiceExport key is known (a slice event only counts for an exported Service). */
  readonly relevant: (key: string) => boolean;
  readonly synced: McsEvent['type'] & ('exports.synced' | 'slices.synced');
  readonly ended: McsEvent['type'] & ('exports.watchEnded' | 'slices.watchEnded');
}

/**
 * A list (when there is no resume point) into the cache, then a watch, as the watch actor's events:
 * `synced`, the ServiceExport keys to reconcile (`export.changed`), and the watch's end.
 */
export function cacheEvents$<T extends Named>(w: CacheWatch<T>): Observable<McsEvent> {
  return defer(() => {
    const { cache } = w;
    if (!cache.synced) cache.resourceVersion = undefined;
    let listed: string[] = [];
    const changed = (keys: readonly string[]): McsEvent[] =>
      keys.filter((key) => w.relevant(key)).map((key) => ({ type: 'export.changed', key }));
    const list = async (): Promise<void> => {
      const items: T[] = [];
      const resourceVersion = await listPaged<T>(
        w.kc,
        w.path,
        { what: `${w.what}s`, limiter: w.limiter },
        (page) => {
          items.push(...page);
        },
        () => (items.length = 0),
      );
      listed = cache.replace(items, resourceVersion);
    };
    const source = { kc: w.kc, path: w.path, what: w.what, resume: cache, limiter: w.limiter, list };
    return listWatch$<T>(source).pipe(
      concatMap((e): McsEvent[] => {
        switch (e.type) {
          case 'synced':
            return [{ type: w.synced }, ...changed(listed.splice(0))];
          case 'bookmark':
            return [];
          case 'added':
          case 'modified':
          case 'deleted':
            return changed(cache.apply(watchPhase[e.type], e.object));
          default:
            return [{ type: w.ended, kind: e.type, message: e.message }];
        }
      }),
    );
  });
}
