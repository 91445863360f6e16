// List-then-watch for the reduced caches (the heartbeat's nodes, the deployer's Descriptions and
// HelmReleases, the MCS caches, the predictor's nodes and pods), as an rxjs stream: a raw, paged list
// — each page parsed, reduced by the caller and dropped — then the watch stream from the list's
// resourceVersion (src/kube/watch-stream.ts `watch$`, which resumes idle watches itself). It ends with
// `expired` (410 Gone: the next run lists again) or `failed`; the statechart decides when to run again.

import type { KubeConfig } from '@kubernetes/client-node';
import { ApiException } from './client-node.ts';
import { catchError, concat, concatMap, defer, filter, merge, of, takeWhile, tap, type Observable } from 'rxjs';
import { afterListPage, type WatchEnd } from '../../machines/watch.ts';
import { rawRequest } from './raw-request.ts';
import type { RequestLimiter } from './request-limiter.ts';
import { resumePointAfter, watch$, type Versioned, type WatchEvent } from './watch-stream.ts';

/** Where a watch resumes; undefined forces a full list. */
export interface ResumePoint {
  resourceVersion: string | undefined;
}

interface ListPage<T> {
  readonly items?: readonly T[];
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string };
}

export interface PagedListOptions {
  readonly what: string;
  readonly pageSize?: number;
  readonly timeoutMs?: number;
  readonly maxPageBytes?: number;
  /** Each page waits for the client's rate limiter. */
  readonly limiter?: RequestLimiter | undefined;
}

/**
 * Every page of `path`, in order. `onPage` sees each page's items; `onRestart` is called when an
 * expired continue token makes the list start over (`afterListPage` decides, at most listRestartLimit
 * times). Returns the list's resourceVersion.
 */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the item type it lists
export async function listPaged<T>(
  kc: KubeConfig,
  path: string,
  opts: PagedListOptions,
  onPage: (items: readonly T[]) => void,
  onRestart: () => void,
): Promise<string | undefined> {
  let next: string | undefined;
  let resourceVersion: string | undefined;
  let restarts = 0;
  do {
    const query = new URLSearchParams({
      limit: String(opts.pageSize ?? 250),
      ...(next === undefined ? {} : { continue: next }),
    });
    const answer = await rawRequest(kc, {
      method: 'GET',
      path: `${path}?${query.toString()}`,
      timeoutMs: opts.timeoutMs ?? 60_000,
      maxBodyBytes: opts.maxPageBytes ?? 64 * 1024 * 1024,
      limiter: opts.limiter,
    });
    const step = afterListPage(answer.status, restarts);
    if (step === 'restart') {
      restarts++;
      next = undefined;
      onRestart();
      continue;
    }
    if (step === 'fail') {
      throw new ApiException(answer.status, `listing ${opts.what}: HTTP ${String(answer.status)}`, answer.body, {});
    }
    const page = JSON.parse(answer.body) as ListPage<T>;
    resourceVersion = page.metadata?.resourceVersion;
    onPage(page.items ?? []);
    next = page.metadata?.continue === '' ? undefined : page.metadata?.continue;
  } while (next !== undefined);
  return resourceVersion;
}

export interface ListWatch {
  readonly kc: KubeConfig;
  /** The collection's path, e.g. `/api/v1/nodes`. */
  readonly path: string;
  /** For messages: `node`, `Description`. */
  readonly what: string;
  /**
   * Where the watch resumes: the caller's store, whose resourceVersion its list sets and its events
   * move on. Bookmarks move it on here; 410 Gone clears it (the next run lists again).
   */
  readonly resume: ResumePoint;
  /** The watch request waits for it (once, when it starts; its events are not limited). */
  readonly limiter?: RequestLimiter | undefined;
  /** A full list into the cache (sets `resume.resourceVersion`); runs when there is no resume point. */
  list(): Promise<void>;
}

/** What a list-then-watch brings: `synced` once the cache is complete, then the watch's events. */
export type ListWatchEvent<T> = { readonly type: 'synced' } | WatchEvent<T>;

const describeError = (err: unknown): string => (err instanceof Error ? err.message : JSON.stringify(err));

/**
 * One list (when there is no resume point) and the watch from its resourceVersion, as a stream:
 * `synced`, then the changes; it completes after `expired` or `failed` (a failed list included, which
 * listPaged already started over on 410 as afterListPage allowed). Subscribing starts it;
 * unsubscribing stops it.
 */
export function listWatch$<T extends Versioned>(lw: ListWatch): Observable<ListWatchEvent<T>> {
  const listed$ = defer(async () => {
    if (lw.resume.resourceVersion === undefined) await lw.list();
  });
  const watched$ = defer(async () => {
    await lw.limiter?.wait();
  }).pipe(
    concatMap(() => watch$<T>({ kc: lw.kc, path: lw.path, what: lw.what, resourceVersion: lw.resume.resourceVersion })),
    tap((e) => {
      // Bookmarks move the resume point on; 410 Gone clears it, so the next run lists again. (The
      // caller's store moves it on with the changes it applies.)
      if (e.type === 'bookmark' || e.type === 'expired') {
        lw.resume.resourceVersion = resumePointAfter(e, lw.resume.resourceVersion);
      }
    }),
  );
  return listed$.pipe(
    concatMap(() => concat(of<ListWatchEvent<T>>({ type: 'synced' }), watched$)),
    catchError((err: unknown) =>
      of<ListWatchEvent<T>>({ type: 'failed', message: `listing ${lw.what}s: ${describeError(err)}` }),
    ),
  );
}

/** A list-watch's end as the machines' watchEnded events carry it (undefined for the other events). */
export function watchEndOf<T>(e: ListWatchEvent<T>): WatchEnd | undefined {
  return e.type === 'expired' || e.type === 'failed' ? { kind: e.type, message: e.message } : undefined;
}

/** The events every list-watch brings besides its changes: complete, or over. */
export type ListWatchMark =
  { readonly type: 'synced' } | { readonly type: 'expired' | 'failed'; readonly message: string };

export const isMark = (e: { readonly type: string }): e is ListWatchMark =>
  e.type === 'synced' || e.type === 'expired' || e.type === 'failed';

/**
 * Several list-watches as one (the HelmReleases and HelmCharts, the predictor's nodes and pods):
 * one `synced` once every one is, and over with the first that ends (the others are stopped).
 */
export function together$<E extends { readonly type: string }>(
  sources: readonly Observable<E | ListWatchMark>[],
): Observable<E | ListWatchMark> {
  return defer(() => {
    let synced = 0;
    return merge(...sources).pipe(
      filter((e) => !isMark(e) || e.type !== 'synced' || ++synced === sources.length),
      takeWhile((e) => !isMark(e) || e.type === 'synced', true),
    );
  });
}

/** Phase names of the stores' `apply` (as the WATCH API spells them). */
export const watchPhase = { added: 'ADDED', modified: 'MODIFIED', deleted: 'DELETED' } as const;
