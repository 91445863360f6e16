// Retry delays: exponential with a cap, jittered downwards so the cap holds and replicas spread out.

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly factor: number;
  readonly maxMs: number;
  /** 0..1: the delay is reduced by up to this fraction, uniformly at random. */
  readonly jitter: number;
}

/** The delay before retry number `attempt` (1-based); `rand` returns a number in [0, 1). */
export function nextDelay(attempt: number, policy: BackoffPolicy, rand: () => number): number {
  const exp = policy.initialMs * policy.factor ** Math.max(0, attempt - 1);
  const capped = Math.min(policy.maxMs, exp);
  return Math.round(capped * (1 - policy.jitter * rand()));
}
