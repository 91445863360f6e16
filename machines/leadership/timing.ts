// The leadership statechart's timing policy, built from the configured numbers (`--leader-elect-lease-
// duration`, `--leader-elect-renew-deadline`, `--leader-elect-retry-period`): src/ passes only those
// numbers (as the machine's input, through electionTiming); the delays below derive every wait from
// them, and the unit tests build their timing the same way from the shipped configuration.

import type { ElectionTiming } from './decisions.ts';

/** The configured numbers, in milliseconds. */
export interface ElectionNumbers {
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

/** The election's timing from the configured numbers (the configuration validated their order). */
export function electionTiming(n: ElectionNumbers): ElectionTiming {
  return Object.freeze({
    leaseDurationMs: n.leaseDurationMs,
    renewDeadlineMs: n.renewDeadlineMs,
    retryPeriodMs: n.retryPeriodMs,
  });
}

/** What the delays read of the context. */
export interface TimingContext {
  readonly timing: ElectionTiming;
  /** The decision of the last read: a `wait` until the holder's lease expires at `expiresAt`. */
  readonly pending: { readonly action: string; readonly expiresAt?: number } | undefined;
  /** When (steady clock) the last read was answered. */
  readonly readAt: number;
  /** How long work may go on after the last successful write (see workDeadline). */
  readonly deadlineMs: number;
}

type DelayOf = (args: { readonly context: TimingContext }) => number;

/** The delays of the leadership statechart. */
export const leadershipDelays = {
  /** Between renewals, and between reads after a failure. */
  retryPeriod: ({ context }) => context.timing.retryPeriodMs,
  /**
   * Until the next read while following: the retry period, or less when the holder's lease expires
   * sooner (then the standby takes over right at expiry, not up to a retry period later).
   */
  nextRead: ({ context }) => {
    const p = context.pending;
    const untilExpiry =
      p?.action === 'wait' && p.expiresAt !== undefined ? Math.max(0, p.expiresAt - context.readAt) : Infinity;
    return Math.min(context.timing.retryPeriodMs, untilExpiry);
  },
  /** Work stops this long after the last successful renewal unless another one succeeds. */
  workDeadline: ({ context }) => context.deadlineMs,
  /** A read or write that hangs (apiserver unreachable, paused) is given up after this long. */
  requestTimeout: ({ context }) => Math.max(context.timing.retryPeriodMs, context.timing.renewDeadlineMs / 2),
} as const satisfies Record<string, DelayOf>;
