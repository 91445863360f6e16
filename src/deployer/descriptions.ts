// The Descriptions of the dedicated namespace in the parent, as the last list and watch showed them.
// Reconciles read from here (no GET per reconcile); the watch queues a key only when there is work
// (descriptionNeedsWork), so the agent's own status writes do not loop.

import type { KubeConfig } from '@kubernetes/client-node';
import { descriptionNeedsWork, type Description } from '../../machines/deployer/decisions.ts';
import type { DeployerEvent } from '../../machines/deployer/machine.ts';
import { listPaged, listThenWatch } from '../kube/list-watch.ts';

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

/** A full, paged list into the store; returns the keys that need work. */
async function listDescriptions(kc: KubeConfig, namespace: string, store: DescriptionStore): Promise<string[]> {
  const items: Description[] = [];
  const resourceVersion = await listPaged<Description>(
    kc,
    descriptionsPath(namespace),
    { what: 'Descriptions', maxPageBytes: 256 * 1024 * 1024 },
    (page) => items.push(...page),
    () => (items.length = 0),
  );
  return store.replace(items, resourceVersion);
}

/** The body of the watchDescriptions actor: a list when there is no resume point, then a watch. */
export function watchDescriptions(
  kc: KubeConfig,
  namespace: string,
  store: DescriptionStore,
  send: (e: DeployerEvent) => void,
): () => void {
  if (!store.synced) store.resourceVersion = undefined;
  let listed: string[] = [];
  return listThenWatch<Description>({
    kc,
    path: descriptionsPath(namespace),
    what: 'Description',
    resume: store,
    list: async () => {
      listed = await listDescriptions(kc, namespace, store);
    },
    synced: () => {
      send({ type: 'descriptions.synced' });
      for (const key of listed.splice(0)) send({ type: 'description.changed', key });
    },
    event: (phase, obj) => {
      const key = store.apply(phase, obj);
      if (key !== undefined) send({ type: 'description.changed', key });
    },
    ended: (kind, message) => {
      send({ type: 'descriptions.watchEnded', kind, message });
    },
  });
}
