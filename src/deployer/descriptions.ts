// The Descriptions of the dedicated namespace in the parent, as the last list and watch showed them
// (the shared store and watch of watched-objects.ts with the Description enqueue rule).

import type { KubeConfig } from '@kubernetes/client-node';
import { descriptionNeedsWork, type Description } from '../../machines/deployer/decisions.ts';
import type { DeployerEvent } from '../../machines/deployer/machine.ts';
import { map, type Observable } from 'rxjs';
import { keyOf, watchObjects$, WatchedObjects } from './watched-objects.ts';

export { keyOf };

export const descriptionsPath = (namespace: string): string =>
  `/apis/apps.clusternet.io/v1alpha1/namespaces/${namespace}/descriptions`;

export class DescriptionStore extends WatchedObjects<Description> {
  constructor() {
    super(descriptionNeedsWork);
  }
}

/** The watchDescriptions actor's events: a list when there is no resume point, then a watch. */
export function descriptionEvents$(
  kc: KubeConfig,
  namespace: string,
  store: DescriptionStore,
): Observable<DeployerEvent> {
  return watchObjects$<Description>({ kc, path: descriptionsPath(namespace), what: 'Description', store }).pipe(
    map((e): DeployerEvent => {
      switch (e.type) {
        case 'synced':
          return { type: 'descriptions.synced' };
        case 'changed':
          return { type: 'description.changed', key: e.key };
        default:
          return { type: 'descriptions.watchEnded', kind: e.type, message: e.message };
      }
    }),
  );
}
