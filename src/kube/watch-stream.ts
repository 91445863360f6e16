// Watches of the apiserver as typed rxjs streams. One watch request is made as every watch of the
// agent makes it: client-node's `Watch` with bookmarks, a server-side timeoutSeconds (so the apiserver
// ends it cleanly) and an idle timeout above the apiserver's bookmark period (client-node's own is
// 30 s: every watch on a quiet cluster ended there as an error). Its end is classified once
// (machines/watch.ts).
//
//   watchRequest$  one request: its events, then how it ended (`ended`, `expired` or `failed`);
//   watch$         the watch as the agent uses it: requests one after the other, each resuming from
//                  the last resourceVersion seen, for as long as they end normally (resumesInStream);
//                  it completes after `expired` (410 Gone: list again) or `failed` (back off), which
//                  the charts decide on.
//
// The operators here frame and decode only: WATCH phases to typed events, the resume point.

import type { KubeConfig } from '@kubernetes/client-node';
import { Watch } from './client-node.ts';
import { defer, filter, Observable, repeat, takeWhile, tap } from 'rxjs';
import {
  classifyWatchEnd,
  resumesInStream,
  serverTimeoutSeconds,
  watchTiming,
  type WatchEnd,
  type WatchEndKind,
  type WatchTiming,
} from '../../machines/watch.ts';

/** client-node's `Watch` with its idle timeout set (the field is private in its types, public at run time). */
export class IdleTimeoutWatch extends Watch {
  constructor(kc: KubeConfig, idleTimeoutMs: number) {
    super(kc);
    Object.assign(this, { requestTimeoutMs: idleTimeoutMs });
  }
}

/** What a watch brings: a change of an object, a bookmark, or how it ended. */
export type WatchEvent<T> =
  | { readonly type: 'added' | 'modified' | 'deleted'; readonly object: T }
  /** Where to resume (the object of a BOOKMARK carries only its resourceVersion). */
  | { readonly type: 'bookmark'; readonly resourceVersion: string | undefined }
  /** The last event of a watch: 410 Gone (list again), or a failure (back off). */
  | { readonly type: 'expired' | 'failed'; readonly message: string };

/** The last event of a watch (`expired` or `failed`). */
export const isWatchEnd = <T>(e: WatchEvent<T>): e is Extract<WatchEvent<T>, { readonly type: 'expired' | 'failed' }> =>
  e.type === 'expired' || e.type === 'failed';

/** The events of one request: a watch's, and `ended` when it ended normally. */
export type RequestEvent<T> = WatchEvent<T> | { readonly type: 'ended'; readonly message: string };

/** An object of the watched kind: its resourceVersion is the resume point. */
export interface Versioned {
  readonly metadata?: { readonly resourceVersion?: string | undefined } | undefined;
}

export interface WatchOptions {
  readonly kc: KubeConfig;
  /** The collection's path, e.g. `/api/v1/nodes`. */
  readonly path: string;
  /** For messages: `node`, `Description`. */
  readonly what: string;
  /** resourceVersion, fieldSelector… (undefined values are left out). */
  readonly params?: Readonly<Record<string, string | undefined>>;
  readonly timing?: WatchTiming;
  readonly random?: () => number;
}

const changes: Readonly<Record<string, 'added' | 'modified' | 'deleted'>> = {
  ADDED: 'added',
  MODIFIED: 'modified',
  DELETED: 'deleted',
};

/** Decodes one WATCH event (ERROR is an end, handled by the request); undefined for an unknown phase. */
export function decodeWatchEvent<T extends Versioned>(phase: string, obj: unknown): WatchEvent<T> | undefined {
  const object = obj as T;
  if (phase === 'BOOKMARK') return { type: 'bookmark', resourceVersion: object.metadata?.resourceVersion };
  const type = changes[phase];
  return type === undefined ? undefined : { type, object };
}

const endEvent = <T>(end: WatchEnd): RequestEvent<T> => ({ type: end.kind, message: end.message });

/** The query of a watch request: bookmarks, the server's timeout, then the caller's parameters. */
function watchQuery(opts: WatchOptions, timing: WatchTiming): Record<string, string> {
  const query: Record<string, string> = {
    allowWatchBookmarks: 'true',
    timeoutSeconds: String(serverTimeoutSeconds(timing, opts.random ?? Math.random)),
  };
  for (const [k, v] of Object.entries(opts.params ?? {})) if (v !== undefined) query[k] = v;
  return query;
}

/** One watch request: its events, then its classified end; unsubscribing aborts it. */
export function watchRequest$<T extends Versioned>(opts: WatchOptions): Observable<RequestEvent<T>> {
  return new Observable<RequestEvent<T>>((subscriber) => {
    const timing = opts.timing ?? watchTiming;
    let events = 0;
    const started = performance.now();
    let controller: AbortController | undefined;
    const end = (e: WatchEnd): void => {
      if (subscriber.closed) return;
      subscriber.next(endEvent<T>(e));
      subscriber.complete();
    };
    const closed = (error: unknown): void => {
      end(classifyWatchEnd({ source: 'closed', error, lastedMs: performance.now() - started, events }, opts.what));
    };
    const onEvent = (phase: string, obj: unknown): void => {
      if (subscriber.closed) return;
      events++;
      if (phase === 'ERROR') {
        const status = (obj ?? {}) as { code?: number; message?: string };
        end(classifyWatchEnd({ source: 'status', status }, opts.what));
        return;
      }
      const event = decodeWatchEvent<T>(phase, obj);
      if (event !== undefined) subscriber.next(event);
    };
    new IdleTimeoutWatch(opts.kc, timing.idleTimeoutMs)
      .watch(opts.path, watchQuery(opts, timing), onEvent, closed)
      .then(
        (c) => {
          controller = c;
          if (subscriber.closed) c.abort();
        },
        (err: unknown) => {
          closed(err ?? new Error('watch failed'));
        },
      );
    return () => {
      controller?.abort();
    };
  });
}

/** The resourceVersion to resume from after `e` (undefined after 410 Gone: list again). */
export function resumePointAfter<T extends Versioned>(
  e: RequestEvent<T>,
  before: string | undefined,
): string | undefined {
  switch (e.type) {
    case 'bookmark':
      return e.resourceVersion ?? before;
    case 'added':
    case 'modified':
    case 'deleted':
      return e.object.metadata?.resourceVersion ?? before;
    case 'expired':
      return undefined;
    default:
      return before;
  }
}

const isEnd = (type: string): type is WatchEndKind => type === 'ended' || type === 'expired' || type === 'failed';

/**
 * The watch from `resourceVersion`: it resumes by itself after a normal end (resumesInStream) and
 * completes after its `expired` or `failed` event. Subscribing opens it; unsubscribing stops it.
 */
export function watch$<T extends Versioned>(
  opts: WatchOptions & { readonly resourceVersion: string | undefined },
): Observable<WatchEvent<T>> {
  return defer(() => {
    let resourceVersion = opts.resourceVersion;
    return defer(() => watchRequest$<T>({ ...opts, params: { ...opts.params, resourceVersion } })).pipe(
      tap((e) => {
        resourceVersion = resumePointAfter(e, resourceVersion);
      }),
      repeat(),
      takeWhile((e) => !isEnd(e.type) || resumesInStream(e.type), true),
      filter((e): e is WatchEvent<T> => e.type !== 'ended'),
    );
  });
}
