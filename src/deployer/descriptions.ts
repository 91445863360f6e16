// The Descriptions of the dedicated namespace in the parent, as the last list and watch showed them
// (the shared store and watch of watched-objects.ts with the Description enqueue rule).

import type { KubeConfig } from '@kubernetes/client-node';
import { descriptionNeedsWork, type Description } from '../../machines/deployer/decisions.ts';
import type { DeployerEvent } from '../../machines/deployer/machine.ts';
import { keyOf, watchObjects, WatchedObjects } from './watched-objects.ts';

export { keyOf };

export const descriptionsPath = (namespace: string): string =>
  `/apis/apps.clusternet.io/v1alpha1/namespaces/${namespace}/descriptions`;

export class DescriptionStore extends WatchedObjects<Description> {
  constructor() {
    super(descriptionNeedsWork);
  }
}

/** The body of the watchDescriptions actor: a list when there is no resume point, then a watch. */
export function watchDescriptions(
  kc: KubeConfig,
  namespace: string,
  store: DescriptionStore,
  send: (e: DeployerEvent) => void,
): () => void {
  return watchObjects<Description>({
    kc,
    path: descriptionsPath(namespace),
    what: 'Description',
    store,
    synced: () => {
      send({ type: 'descriptions.synced' });
    },
    changed: (key) => {
      send({ type: 'description.changed', key });
    },
    ended: ({ kind, message }) => {
      send({ type: 'descriptions.watchEnded', kind, message });
    },
  });
}
