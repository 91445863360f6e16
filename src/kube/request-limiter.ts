// The waiting side of the token bucket: requests to the child cluster wait for their token, first
// come first served, as client-go's per-config rate limiter makes every request of a client wait
// (--kube-api-qps / --kube-api-burst, spec §1.1 and §7.1.5). One limiter is shared by all the child
// requests of a process. A watch waits for its token once, when it starts; its events are not limited.

import { setTimeout as sleep } from 'node:timers/promises';
import { clientRate, fullBucket, reserve, type BucketRate, type TokenBucket } from './token-bucket.ts';

export interface RequestLimiter {
  /** Resolves when the caller may send its request. */
  wait(): Promise<void>;
}

export interface LimiterClock {
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<unknown>;
}

const realClock: LimiterClock = { now: () => performance.now(), sleep: (ms) => sleep(ms) };

export class TokenBucketLimiter implements RequestLimiter {
  readonly rate: BucketRate;
  private readonly clock: LimiterClock;
  private bucket: TokenBucket;

  constructor(rate: BucketRate, clock: LimiterClock = realClock) {
    this.rate = rate;
    this.clock = clock;
    this.bucket = fullBucket(rate, clock.now());
  }

  /** Takes the next token at once and waits until it is due. */
  async wait(): Promise<void> {
    const { waitMs, bucket } = reserve(this.bucket, this.rate, this.clock.now());
    this.bucket = bucket;
    if (waitMs > 0) await this.clock.sleep(Math.ceil(waitMs));
  }
}

const unlimited: RequestLimiter = { wait: () => Promise.resolve() };

/** The limiter for child requests from the command line's --kube-api-qps / --kube-api-burst. */
export function childRequestLimiter(qps: number, burst: number, clock?: LimiterClock): RequestLimiter {
  const rate = clientRate(qps, burst);
  return rate === undefined ? unlimited : new TokenBucketLimiter(rate, clock);
}
