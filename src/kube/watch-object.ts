// A watch of one object by name (a metadata.name field selector): one request of the watch stream
// (src/kube/watch-stream.ts `watchRequest$`). `onEvent` sees every event until the watch ends
// (bookmarks are kept for the resume point, not passed on); `onEnd` is called once when it ends by
// itself, with its classified end and the resourceVersion to resume from. The returned function stops
// it without calling `onEnd`.

import type { KubeConfig } from '@kubernetes/client-node';
import type { WatchEnd } from '../../machines/watch.ts';
import { resumePointAfter, watchRequest$, type Versioned } from './watch-stream.ts';

const phases = { added: 'ADDED', modified: 'MODIFIED', deleted: 'DELETED' } as const;

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the type it watches
export function watchObject<T extends Versioned>(
  kc: KubeConfig,
  collectionPath: string,
  name: string,
  onEvent: (phase: string, obj: T) => void,
  onEnd: (end: WatchEnd, resourceVersion: string | undefined) => void,
  resourceVersion?: string,
): () => void {
  let resume = resourceVersion;
  const subscription = watchRequest$<T>({
    kc,
    path: collectionPath,
    what: name,
    params: { fieldSelector: `metadata.name=${name}`, resourceVersion },
  }).subscribe((e) => {
    resume = resumePointAfter(e, resume);
    switch (e.type) {
      case 'bookmark':
        return;
      case 'added':
      case 'modified':
      case 'deleted':
        onEvent(phases[e.type], e.object);
        return;
      default:
        onEnd({ kind: e.type, message: e.message }, resume);
    }
  });
  return () => {
    subscription.unsubscribe();
  };
}
