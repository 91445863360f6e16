// A watch of one object by name (a metadata.name field selector). `onEvent` sees every event until the
// watch ends; `onEnd` is called once when it ends by itself (err undefined: closed normally) or when
// `onEvent` ends it. The returned function stops it without calling `onEnd`.

import { Watch, type KubeConfig } from '@kubernetes/client-node';

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the type it watches
export function watchObject<T>(
  kc: KubeConfig,
  collectionPath: string,
  name: string,
  onEvent: (phase: string, obj: T, end: (err: unknown) => void) => void,
  onEnd: (err: unknown) => void,
): () => void {
  let aborter: AbortController | undefined;
  let stopped = false;
  const end = (err: unknown): void => {
    if (stopped) return;
    stopped = true;
    aborter?.abort();
    onEnd(err);
  };
  new Watch(kc)
    .watch(
      collectionPath,
      { fieldSelector: `metadata.name=${name}`, allowWatchBookmarks: false },
      (phase: string, obj: T) => {
        if (!stopped) onEvent(phase, obj, end);
      },
      end,
    )
    .then((a) => {
      aborter = a;
      if (stopped) a.abort();
    }, end);
  return () => {
    stopped = true;
    aborter?.abort();
  };
}
