// The heartbeat's timing policy, built from the two configured frequencies (--cluster-status-collect-
// frequency, --cluster-status-update-frequency, spec §4.1). src/heartbeat/actors.ts passes the numbers
// and provides `heartbeatDelays(...)`; the machine tests provide the same delays.

import { nextDelay, type BackoffPolicy } from '../backoff.ts';
import type { HeartbeatContext } from './machine.ts';

/** Report retries: quick after a conflict, capped well below the report period. */
export const reportRetryPolicy: BackoffPolicy = { initialMs: 200, factor: 2, maxMs: 30_000, jitter: 0.3 };
/** A failed node watch starts again after this backoff. */
export const watchRetryPolicy: BackoffPolicy = { initialMs: 500, factor: 2, maxMs: 30_000, jitter: 0.3 };
/** At most one report per this period, however often the status changes. */
export const reportSpacingMs = 10_000;
/** A node changed readiness: collect again this soon (changes in a burst are collected once). */
export const changeDebounceMs = 1_000;
/** When a first node list still missing is worth a warning (a big cluster's list takes seconds). */
export const nodeSyncTimeoutMs = 30_000;

/** The configured frequencies (milliseconds). */
export interface HeartbeatFrequencies {
  readonly collectFrequencyMs: number;
  readonly updateFrequencyMs: number;
}

/** Overrides of the fixed numbers, for tests and benchmarks. */
export type HeartbeatTimingOverrides = Partial<{
  reportSpacingMs: number;
  changeDebounceMs: number;
  nodeSyncTimeoutMs: number;
}>;

export interface HeartbeatTiming {
  readonly collectInterval: number;
  /** settling (reportSpacing) + waiting (reportInterval) = the report period (updateFrequency). */
  readonly reportSpacing: number;
  readonly reportInterval: number;
  readonly changeDebounce: number;
  readonly nodeSyncTimeout: number;
  /** reportRetryPolicy, capped at the report period. */
  readonly reportRetry: BackoffPolicy;
  readonly watchRetry: BackoffPolicy;
}

/** The heartbeat's delays for the configured frequencies. */
export function heartbeatTiming(freq: HeartbeatFrequencies, overrides: HeartbeatTimingOverrides = {}): HeartbeatTiming {
  const spacing = Math.min(overrides.reportSpacingMs ?? reportSpacingMs, freq.updateFrequencyMs);
  return {
    collectInterval: freq.collectFrequencyMs,
    reportSpacing: spacing,
    reportInterval: freq.updateFrequencyMs - spacing,
    changeDebounce: overrides.changeDebounceMs ?? changeDebounceMs,
    nodeSyncTimeout: overrides.nodeSyncTimeoutMs ?? nodeSyncTimeoutMs,
    reportRetry: { ...reportRetryPolicy, maxMs: Math.min(reportRetryPolicy.maxMs, freq.updateFrequencyMs) },
    watchRetry: watchRetryPolicy,
  };
}

/** The machine's named delays (`heartbeatMachine.provide({ delays })`); `random` in [0, 1) jitters the backoffs. */
export function heartbeatDelays(timing: HeartbeatTiming, random: () => number) {
  return {
    collectInterval: timing.collectInterval,
    reportSpacing: timing.reportSpacing,
    reportInterval: timing.reportInterval,
    changeDebounce: timing.changeDebounce,
    nodeSyncTimeout: timing.nodeSyncTimeout,
    retryDelay: ({ context }: { context: HeartbeatContext }) => nextDelay(context.attempt, timing.reportRetry, random),
    watchRetryDelay: ({ context }: { context: HeartbeatContext }) =>
      nextDelay(context.watchAttempt, timing.watchRetry, random),
  };
}
