// One watch request, as every watch of the agent makes it: client-node's `Watch` with bookmarks, a
// server-side timeoutSeconds (so the apiserver ends it cleanly) and an idle timeout above the
// apiserver's bookmark period (client-node's own is 30 s: every watch on a quiet cluster ended
// there as an error). Its end is classified once (machines/watch.ts) and reported once.

import type { KubeConfig } from '@kubernetes/client-node';
import { Watch } from './client-node.ts';
import {
  classifyWatchEnd,
  serverTimeoutSeconds,
  watchTiming,
  type WatchEnd,
  type WatchTiming,
} from '../../machines/watch.ts';

/** client-node's `Watch` with its idle timeout set (the field is private in its types, public at run time). */
export class IdleTimeoutWatch extends Watch {
  constructor(kc: KubeConfig, idleTimeoutMs: number) {
    super(kc);
    Object.assign(this, { requestTimeoutMs: idleTimeoutMs });
  }
}

export interface WatchRequest {
  readonly kc: KubeConfig;
  /** The collection's path, e.g. `/api/v1/nodes`. */
  readonly path: string;
  /** For messages: `node`, `Description`. */
  readonly what: string;
  /** resourceVersion, fieldSelector… (undefined values are left out). */
  readonly params?: Readonly<Record<string, string | undefined>>;
  readonly timing?: WatchTiming;
  readonly random?: () => number;
  /** Every event but ERROR (BOOKMARK included: its resourceVersion is where to resume). */
  event(phase: string, obj: unknown): void;
  /** Called once, last, unless stopped first. */
  ended(end: WatchEnd): void;
}

/** Starts the watch; the returned function stops it without calling `ended`. */
export function openWatch(req: WatchRequest): () => void {
  const timing = req.timing ?? watchTiming;
  let over = false;
  let events = 0;
  const started = performance.now();
  let controller: AbortController | undefined;
  const end = (e: WatchEnd): void => {
    if (over) return;
    over = true;
    controller?.abort();
    req.ended(e);
  };
  const query: Record<string, string> = {
    allowWatchBookmarks: 'true',
    timeoutSeconds: String(serverTimeoutSeconds(timing, req.random ?? Math.random)),
  };
  for (const [k, v] of Object.entries(req.params ?? {})) if (v !== undefined) query[k] = v;
  new IdleTimeoutWatch(req.kc, timing.idleTimeoutMs)
    .watch(
      req.path,
      query,
      (phase: string, obj: unknown) => {
        if (over) return;
        events++;
        if (phase === 'ERROR') {
          const status = (obj ?? {}) as { code?: number; message?: string };
          end(classifyWatchEnd({ source: 'status', status }, req.what));
          return;
        }
        req.event(phase, obj);
      },
      (err: unknown) => {
        end(
          classifyWatchEnd({ source: 'closed', error: err, lastedMs: performance.now() - started, events }, req.what),
        );
      },
    )
    .then(
      (c) => {
        controller = c;
        if (over) c.abort();
      },
      (err: unknown) => {
        const error = err ?? new Error('watch failed');
        end(classifyWatchEnd({ source: 'closed', error, lastedMs: performance.now() - started, events }, req.what));
      },
    );
  return () => {
    over = true;
    controller?.abort();
  };
}
