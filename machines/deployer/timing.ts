// The deployer's timing policy, and how its start-up failures are told apart for the warning.

import type { BackoffPolicy } from '../backoff.ts';
import { failureKind, failureMessage } from '../failure.ts';

/**
 * Start-up steps (the app-deployer credentials, the child-cluster-deployer Secret), retried forever
 * (spec §7.1). Go retries every 5 s; a missing ServiceAccount is an operator's task that can take
 * hours, so the retries slow down to one every 5 min.
 */
export const prepareRetryPolicy: BackoffPolicy = { initialMs: 5_000, factor: 2, maxMs: 300_000, jitter: 0.3 };

/** Which start-up step an actor's error event is about (`xstate.error.actor.<id>`). */
export function startupStepOf(event: { readonly type: string }): string {
  return event.type.replace(/^xstate\.error\.actor\./, '');
}

/**
 * The kind of a start-up failure: the step and how it failed (notFound, forbidden, unreachable…);
 * for an unclassified error its text, which names what is missing ("has no token yet").
 */
export function startupFailureKind(step: string, err: unknown): string {
  const kind = failureKind(err);
  return kind === 'other' ? `${step}: ${failureMessage(err)}` : `${step}: ${kind}`;
}
