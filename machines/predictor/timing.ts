// The built-in predictor's timing policy (used by src/predictor/actors.ts and by the tests).

import { nextDelay, type BackoffPolicy } from '../backoff.ts';
import type { PredictorContext } from './machine.ts';

/** A failed node or pod watch starts again after this backoff. */
export const watchRetryPolicy: BackoffPolicy = { initialMs: 500, factor: 2, maxMs: 30_000, jitter: 0.3 };
/** Before listening again after the listener failed (the port is taken). */
export const listenRetryMs = 2_000;

/** The machine's named delays (`predictorMachine.provide({ delays })`); `random` in [0, 1) jitters them. */
export function predictorDelays(random: () => number) {
  return {
    watchRetryDelay: ({ context }: { context: PredictorContext }) =>
      nextDelay(context.watchAttempt, watchRetryPolicy, random),
    listenRetryDelay: listenRetryMs,
  };
}
