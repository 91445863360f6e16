// The multi-cluster service syncer's timing policy (used by src/mcs/actors.ts and by the tests).

import type { BackoffPolicy } from '../backoff.ts';

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
