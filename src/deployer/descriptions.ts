// The Descriptions of the dedicated namespace in the parent, as the last list and watch showed them.
// Reconciles read from here (no GET per reconcile); the watch queues a key only when there is work
// (descriptionNeedsWork), so the agent's own status writes do not loop.

import { ApiException, Watch, type KubeConfig } from '@kubernetes/client-node';
import { descriptionNeedsWork, type Description } from '../../machines/deployer/decisions.ts';
import type { DeployerEvent } from '../../machines/deployer/machine.ts';
import { rawGet } from '../kube/raw-get.ts';

export const descriptionsPath = (namespace: string): string =>
  `/apis/apps.clusternet.io/v1alpha1/namespaces/${namespace}/descriptions`;

export const keyOf = (d: Description): string => `${d.metadata.namespace ?? ''}/${d.metadata.name ?? ''}`;

export class DescriptionStore {
  private items = new Map<string, Description>();
  resourceVersion: string | undefined;
  synced = false;

  get(key: string): Description | undefined {
    return this.items.get(key);
  }
  get size(): number {
    return this.items.size;
  }
  /** Forgets everything: the next watch starts with a full list and queues every Description. */
  reset(): void {
    this.items.clear();
    this.resourceVersion = undefined;
    this.synced = false;
  }

  /** Keeps a newer copy the agent itself wrote (finalizer, status) until the watch brings it. */
  remember(d: Description): void {
    const known = this.items.get(keyOf(d));
    if (known !== undefined) this.items.set(keyOf(d), d);
  }

  /** Replaces everything with a full list; returns the keys that need work. */
  replace(items: readonly Description[], resourceVersion: string | undefined): string[] {
    const next = new Map(items.map((d) => [keyOf(d), d]));
    const keys = [...next].filter(([k, d]) => descriptionNeedsWork(this.items.get(k), d)).map(([k]) => k);
    for (const k of this.items.keys()) if (!next.has(k)) keys.push(k);
    this.items = next;
    this.resourceVersion = resourceVersion;
    this.synced = true;
    return keys;
  }

  /** Applies one watch event; returns the key if it needs work. */
  apply(phase: string, d: Description): string | undefined {
    const key = keyOf(d);
    this.resourceVersion = d.metadata.resourceVersion ?? this.resourceVersion;
    const before = this.items.get(key);
    if (phase === 'DELETED') {
      this.items.delete(key);
      return key;
    }
    if (phase !== 'ADDED' && phase !== 'MODIFIED') return undefined;
    this.items.set(key, d);
    return descriptionNeedsWork(before, d) ? key : undefined;
  }
}

interface DescriptionList {
  readonly items?: readonly Description[];
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string };
}

const pageSize = 250;

async function listDescriptions(kc: KubeConfig, namespace: string, store: DescriptionStore): Promise<string[]> {
  const items: Description[] = [];
  let next: string | undefined;
  let resourceVersion: string | undefined;
  do {
    const query = new URLSearchParams({ limit: String(pageSize), ...(next === undefined ? {} : { continue: next }) });
    const answer = await rawGet(kc, `${descriptionsPath(namespace)}?${query.toString()}`, {
      timeoutMs: 60_000,
      maxBodyBytes: 256 * 1024 * 1024,
    });
    if (answer.status !== 200) {
      throw new ApiException(answer.status, `listing Descriptions: HTTP ${String(answer.status)}`, answer.body, {});
    }
    const page = JSON.parse(answer.body) as DescriptionList;
    items.push(...(page.items ?? []));
    resourceVersion = page.metadata?.resourceVersion;
    next = page.metadata?.continue === '' ? undefined : page.metadata?.continue;
  } while (next !== undefined);
  return store.replace(items, resourceVersion);
}

/** The body of the watchDescriptions actor: a list when there is no resume point, then a watch. */
export function watchDescriptions(
  kc: KubeConfig,
  namespace: string,
  store: DescriptionStore,
  send: (e: DeployerEvent) => void,
): () => void {
  let stopped = false;
  let controller: AbortController | undefined;
  const ended = (kind: 'expired' | 'failed', message: string): void => {
    if (stopped) return;
    stopped = true;
    send({ type: 'descriptions.watchEnded', kind, message });
  };
  const run = async (): Promise<void> => {
    if (store.resourceVersion === undefined || !store.synced) {
      const keys = await listDescriptions(kc, namespace, store);
      if (stopped) return;
      send({ type: 'descriptions.synced' });
      for (const key of keys) send({ type: 'description.changed', key });
    } else {
      send({ type: 'descriptions.synced' });
    }
    controller = await new Watch(kc).watch(
      descriptionsPath(namespace),
      { resourceVersion: store.resourceVersion, allowWatchBookmarks: true },
      (phase: string, obj: Description & { code?: number; message?: string }) => {
        if (stopped) return;
        if (phase === 'ERROR') {
          if (obj.code === 410) store.resourceVersion = undefined;
          controller?.abort();
          ended(obj.code === 410 ? 'expired' : 'failed', `Description watch error: ${obj.message ?? String(obj.code)}`);
          return;
        }
        if (phase === 'BOOKMARK') {
          store.resourceVersion = obj.metadata.resourceVersion ?? store.resourceVersion;
          return;
        }
        const key = store.apply(phase, obj);
        if (key !== undefined) send({ type: 'description.changed', key });
      },
      (err: unknown) => {
        if (err === null || err === undefined) ended('expired', 'Description watch closed');
        else ended('failed', `Description watch: ${err instanceof Error ? err.message : JSON.stringify(err)}`);
      },
    );
    if (stopped) controller.abort();
  };
  run().catch((err: unknown) => {
    ended('failed', `listing Descriptions: ${err instanceof Error ? err.message : JSON.stringify(err)}`);
  });
  return () => {
    stopped = true;
    controller?.abort();
  };
}
