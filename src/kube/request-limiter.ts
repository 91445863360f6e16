// The waiting side of the token bucket: requests to the child cluster wait for their token, first
// come first served, as client-go's per-config rate limiter makes every request of a client wait
// (--kube-api-qps / --kube-api-burst, spec §1.1 and §7.1.5). The heartbeat and the deployer have one
// limiter each, as the Go agent's separate clients have. A watch waits for its token once, when it
// starts; its events are not limited. A wait ends early when the caller's work is stopped.

import { longSleep } from '../clock.ts';
import { clientRate, fullBucket, giveBack, reserve, type BucketRate, type TokenBucket } from './token-bucket.ts';

export interface RequestLimiter {
  /**
   * Resolves when the caller may send its request. Rejects with the signal's reason once `signal`
   * aborts (client-go's Wait(ctx)): the token is given back, so a term that ended leaves no debt.
   */
  wait(signal?: AbortSignal): Promise<void>;
}

export interface LimiterClock {
  readonly now: () => number;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<unknown>;
}

const realClock: LimiterClock = {
  now: () => performance.now(),
  // A tiny --kube-api-qps can ask for a wait past Node's timer limit: longSleep honours it.
  sleep: longSleep,
};

export class TokenBucketLimiter implements RequestLimiter {
  readonly rate: BucketRate;
  private readonly clock: LimiterClock;
  private bucket: TokenBucket;

  constructor(rate: BucketRate, clock: LimiterClock = realClock) {
    this.rate = rate;
    this.clock = clock;
    this.bucket = fullBucket(rate, clock.now());
  }

  /** Takes the next token at once and waits until it is due; an abort gives it back. */
  async wait(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const { waitMs, bucket } = reserve(this.bucket, this.rate, this.clock.now());
    this.bucket = bucket;
    if (waitMs <= 0) return;
    try {
      await this.clock.sleep(Math.ceil(waitMs), signal);
    } catch (err) {
      this.bucket = giveBack(this.bucket, this.rate, this.clock.now());
      throw signal?.aborted === true ? signal.reason : err;
    }
  }
}

const unlimited: RequestLimiter = {
  wait: (signal) => {
    signal?.throwIfAborted();
    return Promise.resolve();
  },
};

/** The limiter for child requests from the command line's --kube-api-qps / --kube-api-burst. */
export function childRequestLimiter(qps: number, burst: number, clock?: LimiterClock): RequestLimiter {
  const rate = clientRate(qps, burst);
  return rate === undefined ? unlimited : new TokenBucketLimiter(rate, clock);
}
