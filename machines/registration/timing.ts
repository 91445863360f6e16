// The registration statechart's timing policy: the delays src/ provides and the unit tests use, built
// from the policies below with the randomness injected (tests pass `() => 0`: no jitter).

import { nextDelay, type BackoffPolicy } from '../backoff.ts';
import type { RegistrationContext } from './machine.ts';

/** A failed step (identity, stored Secret, request, store, verification): 0.5 s doubling to 30 s. */
export const retryPolicy: BackoffPolicy = { initialMs: 500, factor: 2, maxMs: 30_000, jitter: 0.3 };

/** Reading the request while waiting: quick at first (approval takes ~1 s), then every 5 s as Go. */
export const approvalPollPolicy: BackoffPolicy = { initialMs: 250, factor: 2, maxMs: 5000, jitter: 0.2 };

/**
 * The parent rejects the credentials it approved: only an operator deleting the request helps, so the
 * agent re-reads it ever more slowly: 5 s (the Go agent's period) doubling to 2 min, minus up to 30 %.
 * The count of these rejections survives the loop (request → approval → store → verify) and is reset
 * only when credentials verify, so the delay keeps growing.
 */
export const rejectedApprovalPolicy: BackoffPolicy = { initialMs: 5000, factor: 2, maxMs: 120_000, jitter: 0.3 };

/** How often a denied request is re-read. */
export const approvalResyncMs = 30_000;

type DelayOf = (args: { readonly context: RegistrationContext }) => number;

export interface RegistrationDelays {
  readonly retryDelay: DelayOf;
  readonly rejectedApprovalDelay: DelayOf;
  readonly approvalPoll: DelayOf;
  readonly approvalResync: number;
  readonly credentialCheckInterval: number;
}

/** The delays of the registration statechart; `rand` returns a number in [0, 1). */
export function registrationDelays(
  rand: () => number,
  opts: { readonly credentialCheckIntervalMs: number; readonly approvalResyncMs?: number },
): RegistrationDelays {
  return {
    retryDelay: ({ context }) => nextDelay(Math.max(1, context.attempt), retryPolicy, rand),
    rejectedApprovalDelay: ({ context }) =>
      nextDelay(Math.max(1, context.rejectedApprovals), rejectedApprovalPolicy, rand),
    approvalPoll: ({ context }) => nextDelay(Math.max(1, context.polls), approvalPollPolicy, rand),
    approvalResync: opts.approvalResyncMs ?? approvalResyncMs,
    credentialCheckInterval: opts.credentialCheckIntervalMs,
  };
}
