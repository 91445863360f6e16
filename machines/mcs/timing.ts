// The multi-cluster service syncer's timing policy (used by src/mcs/actors.ts and by the tests).

import { nextDelay, type BackoffPolicy } from '../backoff.ts';
import type { McsContext, McsEvent } from './machine.ts';

/** Reading the child's /version again after a failure. */
export const childCheckRetryPolicy: BackoffPolicy = { initialMs: 1_000, factor: 2, maxMs: 30_000, jitter: 0.3 };
/** A child watch (ServiceExports, EndpointSlices) that failed starts again after this backoff. */
export const watchRetryPolicy: BackoffPolicy = { initialMs: 500, factor: 2, maxMs: 30_000, jitter: 0.3 };
/**
 * A failed reconcile (the parent unreachable, a conflict) is queued again after this per-key backoff. Go
 * requeues after 1 s; the cap of 8 s bounds how long after a parent outage the slices catch up.
 */
export const workRetryPolicy: BackoffPolicy = { initialMs: 1_000, factor: 2, maxMs: 8_000, jitter: 0.3 };
/** Reconciles at once (each a few requests to the parent). */
export const defaultWorkers = 4;

interface DelayArgs {
  readonly context: McsContext;
  readonly event: McsEvent;
}

/** The machine's named delays (`mcsMachine.provide({ delays })`); `random` in [0, 1) jitters them. */
export function mcsDelays(random: () => number) {
  return {
    checkRetryDelay: ({ context }: DelayArgs) => nextDelay(context.checkAttempt, childCheckRetryPolicy, random),
    exportsRetryDelay: ({ context }: DelayArgs) => nextDelay(context.exportsAttempt, watchRetryPolicy, random),
    slicesRetryDelay: ({ context }: DelayArgs) => nextDelay(context.slicesAttempt, watchRetryPolicy, random),
    workRetryDelay: ({ context, event }: DelayArgs) =>
      nextDelay(event.type === 'work.failed' ? (context.failures[event.key] ?? 1) : 1, workRetryPolicy, random),
  };
}
