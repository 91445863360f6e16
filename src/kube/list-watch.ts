// List-then-watch for the reduced caches (the heartbeat's nodes, the deployer's Descriptions): a raw,
// paged list — each page parsed, reduced by the caller and dropped — then a watch from the list's
// resourceVersion (src/kube/watch-stream.ts). Its end is classified by machines/watch.ts (`ended`,
// `expired`: 410 Gone, then the next run lists again; `failed`); the statechart decides when to run again.

import type { KubeConfig } from '@kubernetes/client-node';
import { ApiException } from './client-node.ts';
import type { WatchEnd } from '../../machines/watch.ts';
import { rawRequest } from './raw-request.ts';
import type { RequestLimiter } from './request-limiter.ts';
import { openWatch } from './watch-stream.ts';

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
 * expired continue token makes the list start over (at most 3 times). Returns the list's resourceVersion.
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
    if (answer.status === 410 && restarts < 3) {
      restarts++;
      next = undefined;
      onRestart();
      continue;
    }
    if (answer.status !== 200) {
      throw new ApiException(answer.status, `listing ${opts.what}: HTTP ${String(answer.status)}`, answer.body, {});
    }
    const page = JSON.parse(answer.body) as ListPage<T>;
    resourceVersion = page.metadata?.resourceVersion;
    onPage(page.items ?? []);
    next = page.metadata?.continue === '' ? undefined : page.metadata?.continue;
  } while (next !== undefined);
  return resourceVersion;
}

export interface ListWatch<T> {
  readonly kc: KubeConfig;
  /** The collection's path, e.g. `/api/v1/nodes`. */
  readonly path: string;
  /** For messages: `node`, `Description`. */
  readonly what: string;
  readonly resume: ResumePoint;
  /** The watch request waits for it (once, when it starts; its events are not limited). */
  readonly limiter?: RequestLimiter | undefined;
  /** A full list into the cache (sets `resume.resourceVersion`); runs when there is no resume point. */
  list(): Promise<void>;
  /** The cache is complete: after a list, or at once when resuming. */
  synced(): void;
  /** One ADDED / MODIFIED / DELETED event (the caller moves `resume.resourceVersion` on). */
  event(phase: string, obj: T): void;
  /** The watch ended (classified by machines/watch.ts); called once, last. */
  ended(end: WatchEnd): void;
}

const describeError = (err: unknown): string => (err instanceof Error ? err.message : JSON.stringify(err));

/** Runs one list (if needed) and one watch; returns a function that stops it. */
export function listThenWatch<T extends { metadata?: { resourceVersion?: string } }>(lw: ListWatch<T>): () => void {
  let stopped = false;
  let stopWatch: (() => void) | undefined;
  const ended = (end: WatchEnd): void => {
    if (stopped) return;
    stopped = true;
    // 410 Gone: the resume point is too old; the next run lists again.
    if (end.kind === 'expired') lw.resume.resourceVersion = undefined;
    lw.ended(end);
  };
  const run = async (): Promise<void> => {
    if (lw.resume.resourceVersion === undefined) {
      await lw.list();
      if (stopped) return;
    }
    lw.synced();
    await lw.limiter?.wait();
    if (stopped) return;
    stopWatch = openWatch({
      kc: lw.kc,
      path: lw.path,
      what: lw.what,
      params: { resourceVersion: lw.resume.resourceVersion },
      event: (phase, obj) => {
        if (stopped) return;
        const o = obj as T;
        if (phase === 'BOOKMARK') {
          lw.resume.resourceVersion = o.metadata?.resourceVersion ?? lw.resume.resourceVersion;
          return;
        }
        lw.event(phase, o);
      },
      ended,
    });
  };
  run().catch((err: unknown) => {
    // A list that fails (410 included: listPaged already started over three times) backs off.
    ended({ kind: 'failed', message: `listing ${lw.what}s: ${describeError(err)}` });
  });
  return () => {
    stopped = true;
    stopWatch?.();
  };
}
