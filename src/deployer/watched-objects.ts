// The objects of one kind in the dedicated namespace of the parent (Descriptions, HelmReleases,
// HelmCharts), as the last list and watch showed them. Reconciles read from here (no GET per
// reconcile); the watch reports a key only when the kind's enqueue rule says there is work, so the
// agent's own status writes do not loop.

import type { KubeConfig } from '@kubernetes/client-node';
import type { ObjectMeta } from '../../machines/deployer/decisions.ts';
import { concatMap, defer, type Observable } from 'rxjs';
import { listPaged, listWatch$, watchPhase, type ListWatchMark } from '../kube/list-watch.ts';

interface Named {
  readonly metadata: ObjectMeta;
}

export const keyOf = (o: Named): string => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;

export class WatchedObjects<T extends Named> {
  private items = new Map<string, T>();
  private readonly needsWork: (before: T | undefined, after: T | undefined) => boolean;
  resourceVersion: string | undefined;
  synced = false;

  /** `needsWork`: the kind's enqueue rule for an update (additions and deletions always count). */
  constructor(needsWork: (before: T | undefined, after: T | undefined) => boolean) {
    this.needsWork = needsWork;
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }
  get size(): number {
    return this.items.size;
  }
  entries(): IterableIterator<[string, T]> {
    return this.items.entries();
  }
  /** Forgets everything: the next watch starts with a full list and queues every object. */
  reset(): void {
    this.items.clear();
    this.resourceVersion = undefined;
    this.synced = false;
  }

  /** Keeps a newer copy the agent itself wrote (finalizer, status) until the watch brings it. */
  remember(o: T): void {
    const known = this.items.get(keyOf(o));
    if (known !== undefined) this.items.set(keyOf(o), o);
  }

  /** Replaces everything with a full list; returns the keys that need work (and the objects gone). */
  replace(items: readonly T[], resourceVersion: string | undefined): { keys: string[]; gone: T[] } {
    const next = new Map(items.map((o) => [keyOf(o), o]));
    const keys = [...next].filter(([k, o]) => this.needsWork(this.items.get(k), o)).map(([k]) => k);
    const gone = [...this.items].filter(([k]) => !next.has(k)).map(([, o]) => o);
    keys.push(...gone.map(keyOf));
    this.items = next;
    this.resourceVersion = resourceVersion;
    this.synced = true;
    return { keys, gone };
  }

  /** Applies one watch event; returns the key if it needs work. */
  apply(phase: string, o: T): string | undefined {
    const key = keyOf(o);
    this.resourceVersion = o.metadata.resourceVersion ?? this.resourceVersion;
    const before = this.items.get(key);
    if (phase === 'DELETED') {
      this.items.delete(key);
      return key;
    }
    if (phase !== 'ADDED' && phase !== 'MODIFIED') return undefined;
    this.items.set(key, o);
    return this.needsWork(before, o) ? key : undefined;
  }
}

export interface ObjectWatch<T extends Named> {
  readonly kc: KubeConfig;
  /** The collection in the dedicated namespace, e.g. `/apis/…/namespaces/<ns>/descriptions`. */
  readonly path: string;
  /** For messages: `Description`, `HelmRelease`. */
  readonly what: string;
  readonly store: WatchedObjects<T>;
}

/** What a watch of the objects brings: `synced` (after a list, or at once when resuming), a change, its end. */
export type ObjectWatchEvent<T> =
  | ListWatchMark
  /** `object` needs work; `deleted` when it went away (its last known copy). */
  | { readonly type: 'changed'; readonly key: string; readonly object: T; readonly deleted: boolean };

/**
 * A list (when there is no resume point) into the store, then a watch, as a stream of the keys that
 * need work (after a list: every key that changed or went away, right after `synced`).
 */
export function watchObjects$<T extends Named>(w: ObjectWatch<T>): Observable<ObjectWatchEvent<T>> {
  return defer(() => {
    const { store } = w;
    if (!store.synced) store.resourceVersion = undefined;
    let listed: ObjectWatchEvent<T>[] = [];
    const list = async (): Promise<void> => {
      const items: T[] = [];
      const resourceVersion = await listPaged<T>(
        w.kc,
        w.path,
        { what: `${w.what}s`, maxPageBytes: 256 * 1024 * 1024 },
        (page) => items.push(...page),
        () => (items.length = 0),
      );
      const { keys, gone } = store.replace(items, resourceVersion);
      const goneByKey = new Map(gone.map((o) => [keyOf(o), o]));
      listed = keys.flatMap((key) => {
        const object = store.get(key) ?? goneByKey.get(key);
        return object === undefined ? [] : [{ type: 'changed', key, object, deleted: goneByKey.has(key) } as const];
      });
    };
    return listWatch$<T>({ kc: w.kc, path: w.path, what: w.what, resume: store, list }).pipe(
      concatMap((e): ObjectWatchEvent<T>[] => {
        switch (e.type) {
          case 'synced':
            return [e, ...listed.splice(0)];
          case 'bookmark':
            return [];
          case 'added':
          case 'modified':
          case 'deleted': {
            const key = store.apply(watchPhase[e.type], e.object);
            return key === undefined ? [] : [{ type: 'changed', key, object: e.object, deleted: e.type === 'deleted' }];
          }
          default:
            return [e];
        }
      }),
    );
  });
}
