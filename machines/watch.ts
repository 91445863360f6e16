// How a watch of an apiserver ended, and what follows, for every watch of the agent (nodes,
// Descriptions, HelmReleases and HelmCharts, Recovery's applied kinds, the Lease).
//
//   ended    a normal end: the server closed it (its timeoutSeconds), or nothing came for the
//            client's idle timeout on a quiet cluster. Resume from the last resourceVersion at once.
//   expired  410 Gone: the resume point is too old. List again at once.
//   failed   anything else (an HTTP error, a refused connection, an ERROR event other than 410).
//            Back off.
//
// src/ classifies what the client saw with `classifyWatchEnd`; the watch stream resumes an `ended`
// watch itself (`resumesInStream`), and the machines decide on the rest with `resumesAtOnce`. Pure:
// no Kubernetes client here.

import { failureMessage } from './failure.ts';

export type WatchEndKind = 'ended' | 'expired' | 'failed';

export interface WatchEnd {
  readonly kind: WatchEndKind;
  readonly message: string;
}

/** How the watch request is made (spec §7.5 for Recovery; the same for every watch). */
export interface WatchTiming {
  /** The server ends the watch after a random timeoutSeconds in [min, max) (client-go: 5–10 min). */
  readonly serverTimeoutSeconds: { readonly min: number; readonly max: number };
  /**
   * Nothing received for this long ends the watch on the client side (client-node's `Watch` has such
   * a timer; its default of 30 s ended every idle watch). Above the apiserver's bookmark period
   * (one a minute with allowWatchBookmarks), so on a live connection it fires only when the server
   * sends no bookmarks; it is what notices a connection that died without a close.
   */
  readonly idleTimeoutMs: number;
}

export const watchTiming: WatchTiming = {
  serverTimeoutSeconds: { min: 300, max: 600 },
  idleTimeoutMs: 90_000,
};

/** The timeoutSeconds of the next watch request; `rand` in [0, 1). */
export function serverTimeoutSeconds(timing: WatchTiming, rand: () => number): number {
  const { min, max } = timing.serverTimeoutSeconds;
  return Math.floor(min + (max - min) * rand());
}

/** What a watch saw last: the `done` error of the client, or the object of an ERROR event (a Status). */
export type WatchEndCause =
  /** `lastedMs` and `events` (bookmarks included): a watch closed within a second with nothing is no idle end. */
  | { readonly source: 'closed'; readonly error: unknown; readonly lastedMs: number; readonly events: number }
  | { readonly source: 'status'; readonly status: { readonly code?: number; readonly message?: string } };

/** A watch closed sooner than this without any event counts as failed (client-go: 1 s). */
export const veryShortWatchMs = 1_000;

const errorName = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && 'name' in err && typeof err.name === 'string' ? err.name : undefined;

const statusCodeOf = (err: unknown): number | undefined =>
  typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number'
    ? err.statusCode
    : undefined;

const messageOf = (err: unknown): string =>
  typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string'
    ? err.message
    : JSON.stringify(err);

/** The one classification of a watch's end; `what` names the watch in the message (`node`, `Description`). */
export function classifyWatchEnd(cause: WatchEndCause, what: string): WatchEnd {
  if (cause.source === 'status') {
    const { code, message } = cause.status;
    const text = `${what} watch error: ${message ?? String(code)}`;
    return { kind: code === 410 ? 'expired' : 'failed', message: text };
  }
  const err = cause.error;
  if (err === null || err === undefined) {
    // As client-go's reflector: a watch closed at once with nothing in it is a server fault, not an
    // idle end (resuming at once would spin).
    if (cause.lastedMs < veryShortWatchMs && cause.events === 0)
      return { kind: 'failed', message: `${what} watch closed at once with no event` };
    return { kind: 'ended', message: `${what} watch closed by the server` };
  }
  // client-node aborts the request with a DOMException named TimeoutError when nothing came for its
  // idle timeout: a quiet cluster, not a fault.
  if (errorName(err) === 'TimeoutError') return { kind: 'ended', message: `${what} watch idle; resuming` };
  if (statusCodeOf(err) === 410) return { kind: 'expired', message: `${what} watch: 410 Gone` };
  return { kind: 'failed', message: `${what} watch: ${messageOf(err)}` };
}

/**
 * Which ends the watch stream (src/kube/watch-stream.ts `watch$`) resumes by itself, from the last
 * resourceVersion it saw: a watch the server closed or that was idle. The charts see the others.
 */
export function resumesInStream(kind: WatchEndKind): boolean {
  return kind === 'ended';
}

/** The machines' decision: resume (or list again) at once, or back off. */
export function resumesAtOnce(kind: WatchEndKind): boolean {
  return kind !== 'failed';
}

/**
 * A paged list whose continue token expired (410 Gone on a later page) starts over from the first page,
 * at most this many times (client-go's pager falls back to one full list; we keep paging).
 */
export const listRestartLimit = 3;

/** What follows one page of a paged list: take it, start the list over, or fail. */
export type ListPageStep = 'page' | 'restart' | 'fail';

/** The decision after a page answered with HTTP `status`, the list having started over `restarts` times. */
export function afterListPage(status: number, restarts: number, limit: number = listRestartLimit): ListPageStep {
  if (status === 200) return 'page';
  return status === 410 && restarts < limit ? 'restart' : 'fail';
}

/** What differs between the watch regions of the charts (deployer, MCS): names of their own setup. */
export interface WatchRegionNames<
  Src extends string,
  Ended extends string,
  Guard extends string,
  Fail extends string,
  Delay extends string,
> {
  /** The watch actor (also the invoke's id). */
  readonly src: Src;
  /** Its end event (`<x>.watchEnded`, with the WatchEndKind). */
  readonly ended: Ended;
  /** The guard that resumes at once (an expired watch: resumesAtOnce). */
  readonly resumesAtOnce: Guard;
  /** The action that counts a failure; its parameters (WatchFailureParams): the end event's message or the actor's error. */
  readonly recordFailure: Fail;
  /** The backoff before the next watch. */
  readonly retryDelay: Delay;
}

/** What a watch region's `recordFailure` action is given: why the watch ended. */
export interface WatchFailureParams {
  readonly message: string;
}

/** The parameters of `recordFailure` for the region's end event. */
const endParams = ({ event }: { event: { readonly message: string } }): WatchFailureParams => ({
  message: event.message,
});

/** The parameters of `recordFailure` for the watch actor's failure. */
export const errorParams = ({ event }: { event: { readonly error: unknown } }): WatchFailureParams => ({
  message: failureMessage(event.error),
});

/**
 * A watch region: `watching` invokes the watch actor; an end that resumes at once re-enters it (a new
 * actor, which lists again after 410 Gone), any other end or an actor error goes to `backingOff`, which
 * watches again after the retry delay. `extra` adds the region's own events (its synced event).
 */
export function watchRegion<
  Src extends string,
  Ended extends string,
  Guard extends string,
  Fail extends string,
  Delay extends string,
  Input,
  // eslint-disable-next-line @typescript-eslint/no-generated-empty-object-type -- no events of its own by default
  Extra extends object = Record<never, never>,
>(names: WatchRegionNames<Src, Ended, Guard, Fail, Delay>, input: Input, extra?: Extra) {
  const ended = [
    { guard: names.resumesAtOnce, target: 'watching', reenter: true },
    { target: 'backingOff', actions: { type: names.recordFailure, params: endParams } },
  ] as const;
  const on = { ...extra, [names.ended]: ended } as Extra & Record<Ended, typeof ended>;
  return {
    initial: 'watching',
    states: {
      watching: {
        invoke: {
          id: names.src,
          src: names.src,
          input,
          onError: { target: 'backingOff', actions: { type: names.recordFailure, params: errorParams } },
        },
        on,
      },
      backingOff: { after: { [names.retryDelay]: 'watching' } as Record<Delay, 'watching'> },
    },
  } as const;
}
