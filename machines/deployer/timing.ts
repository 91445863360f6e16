// The deployer's timing policy, and how its start-up failures are told apart for the warning.

import { nextDelay, type BackoffPolicy } from '../backoff.ts';
import { failureKind, failureMessage } from '../failure.ts';
import { helmDeadlineMs, helmGraceMs } from './helm-releases.ts';
import type { HelmRunContext, HelmRunLimits } from './helm-run.ts';
import type { DeployerContext, DeployerEvent } from './machine.ts';

/**
 * Start-up steps (the app-deployer credentials, the child-cluster-deployer Secret), retried forever
 * (spec §7.1). Go retries every 5 s; a missing ServiceAccount is an operator's task that can take
 * hours, so the retries slow down to one every 5 min.
 */
export const prepareRetryPolicy: BackoffPolicy = { initialMs: 5_000, factor: 2, maxMs: 300_000, jitter: 0.3 };

/** A Description, HelmRelease or Recovery watch that failed starts again after this backoff. */
export const watchRetryPolicy: BackoffPolicy = { initialMs: 500, factor: 2, maxMs: 30_000, jitter: 0.3 };
/** A failed Description: client-go's rate limiter starts at 5 ms; ours is gentler on a struggling child. */
export const workRetryPolicy: BackoffPolicy = { initialMs: 1_000, factor: 2, maxMs: 300_000, jitter: 0.3 };

/** Every backoff of the deployer (one policy per named delay). */
export interface DeployerTiming {
  readonly prepareRetry: BackoffPolicy;
  readonly watchRetry: BackoffPolicy;
  readonly helmWatchRetry: BackoffPolicy;
  readonly driftRetry: BackoffPolicy;
  readonly workRetry: BackoffPolicy;
}

/** The shipped timing. */
export const deployerTiming: DeployerTiming = {
  prepareRetry: prepareRetryPolicy,
  watchRetry: watchRetryPolicy,
  helmWatchRetry: watchRetryPolicy,
  driftRetry: watchRetryPolicy,
  workRetry: workRetryPolicy,
};

/** After SIGTERM, before SIGKILL, for the short runs (status, repository index, chart download, login). */
export const shortGraceMs = 30_000;

/**
 * A run's limits (the input of machines/deployer/helm-run.ts). Install, upgrade, rollback and uninstall:
 * from the HelmRelease's timeoutSeconds (helmDeadlineMs, helmGraceMs); the short runs: their own
 * deadline and shortGraceMs.
 */
export const helmRunLimits = {
  long: (timeoutSeconds: number): HelmRunLimits => ({
    deadlineMs: helmDeadlineMs(timeoutSeconds),
    graceMs: helmGraceMs(timeoutSeconds),
  }),
  short: (deadlineMs: number): HelmRunLimits => ({ deadlineMs, graceMs: shortGraceMs }),
} as const;

/** The helm run chart's named delays (`helmRunMachine.provide({ delays })`), from the run's limits. */
export function helmRunDelays() {
  return {
    helmDeadline: ({ context }: { context: HelmRunContext }) => context.limits.deadlineMs,
    helmGrace: ({ context }: { context: HelmRunContext }) => context.limits.graceMs,
  };
}

/**
 * Writes of a status to the parent (PUT …/status): a conflict (409) is read again and written again,
 * at most this many attempts in all (spec §7.3, §7.4 step 11).
 */
export const statusWriteAttempts = 5;

interface DelayArgs {
  readonly context: DeployerContext;
  readonly event: DeployerEvent;
}

/** The failure count behind a per-resource or per-key delay (the event that raised the retry). */
const driftAttemptOf = ({ context, event }: DelayArgs): number =>
  event.type === 'drift.watchEnded' ? (context.driftAttempts[event.resource] ?? 1) : 1;
const workFailuresOf = ({ context, event }: DelayArgs): number =>
  event.type === 'work.failed' ? (context.failures[event.key] ?? 1) : 1;

/** The machine's named delays (`deployerMachine.provide({ delays })`); `random` in [0, 1) jitters them. */
export function deployerDelays(timing: DeployerTiming, random: () => number) {
  return {
    prepareRetryDelay: ({ context }: DelayArgs) => nextDelay(context.attempt, timing.prepareRetry, random),
    watchRetryDelay: ({ context }: DelayArgs) => nextDelay(context.attempt, timing.watchRetry, random),
    helmWatchRetryDelay: ({ context }: DelayArgs) => nextDelay(context.helmAttempt, timing.helmWatchRetry, random),
    driftRetryDelay: (args: DelayArgs) => nextDelay(driftAttemptOf(args), timing.driftRetry, random),
    workRetryDelay: (args: DelayArgs) => nextDelay(workFailuresOf(args), timing.workRetry, random),
  };
}

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
