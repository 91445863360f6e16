// A watch of one object by name (a metadata.name field selector), made as every watch is
// (src/kube/watch-stream.ts). `onEvent` sees every event until the watch ends (bookmarks are kept
// for the resume point, not passed on); `onEnd` is called once when it ends by itself, with its
// classified end and the resourceVersion to resume from. The returned function stops it without
// calling `onEnd`.

import type { KubeConfig } from '@kubernetes/client-node';
import type { WatchEnd } from '../../machines/watch.ts';
import { openWatch } from './watch-stream.ts';

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the type it watches
export function watchObject<T extends { metadata?: { resourceVersion?: string } }>(
  kc: KubeConfig,
  collectionPath: string,
  name: string,
  onEvent: (phase: string, obj: T) => void,
  onEnd: (end: WatchEnd, resourceVersion: string | undefined) => void,
  resourceVersion?: string,
): () => void {
  let resume = resourceVersion;
  return openWatch({
    kc,
    path: collectionPath,
    what: name,
    params: { fieldSelector: `metadata.name=${name}`, resourceVersion },
    event: (phase, obj) => {
      const o = obj as T;
      resume = o.metadata?.resourceVersion ?? resume;
      if (phase !== 'BOOKMARK') onEvent(phase, o);
    },
    ended: (end) => {
      onEnd(end, end.kind === 'expired' ? undefined : resume);
    },
  });
}
