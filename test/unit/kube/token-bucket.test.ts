import { describe, expect, it } from 'vitest';
import { childRequestLimiter, TokenBucketLimiter, type LimiterClock } from '../../../src/kube/request-limiter.ts';
import {
  clientRate,
  fullBucket,
  giveBack,
  refill,
  reserve,
  tryTake,
  type BucketRate,
  type TokenBucket,
} from '../../../src/kube/token-bucket.ts';

const rate: BucketRate = { perSecond: 2, burst: 3 };
const b = (tokens: number, atMs: number): TokenBucket => ({ tokens, atMs });

describe('token bucket arithmetic', () => {
  it.each([
    { name: 'full stays full', bucket: b(3, 0), now: 10_000, tokens: 3 },
    { name: 'refills at the rate', bucket: b(0, 0), now: 500, tokens: 1 },
    { name: 'never above burst', bucket: b(1, 0), now: 5_000, tokens: 3 },
    { name: 'a debt is paid back first', bucket: b(-2, 0), now: 1_500, tokens: 1 },
    { name: 'a clock going back adds nothing', bucket: b(1, 1_000), now: 0, tokens: 1 },
  ])('refill: $name', ({ bucket, now, tokens }) => {
    expect(refill(bucket, rate, now).tokens).toBeCloseTo(tokens, 9);
  });

  it.each([
    { name: 'a token is there', bucket: b(1.2, 0), now: 0, taken: true, left: 0.2 },
    { name: 'no token', bucket: b(0.9, 0), now: 0, taken: false, left: 0.9 },
    { name: 'one grows back', bucket: b(0.9, 0), now: 50, taken: true, left: 0 },
    { name: 'never negative', bucket: b(0, 0), now: 0, taken: false, left: 0 },
  ])('tryTake: $name', ({ bucket, now, taken, left }) => {
    const r = tryTake(bucket, rate, now);
    expect(r.taken).toBe(taken);
    expect(r.bucket.tokens).toBeCloseTo(left, 9);
  });

  it.each([
    { name: 'from a full bucket: no wait', bucket: b(3, 0), now: 0, waitMs: 0, left: 2 },
    { name: 'the last token: no wait', bucket: b(1, 0), now: 0, waitMs: 0, left: 0 },
    { name: 'empty: one period', bucket: b(0, 0), now: 0, waitMs: 500, left: -1 },
    { name: 'in debt: waits behind the others', bucket: b(-3, 0), now: 0, waitMs: 2_000, left: -4 },
    { name: 'half a token grown', bucket: b(0, 0), now: 250, waitMs: 250, left: -0.5 },
  ])('reserve: $name', ({ bucket, now, waitMs, left }) => {
    const r = reserve(bucket, rate, now);
    expect(r.waitMs).toBeCloseTo(waitMs, 6);
    expect(r.bucket.tokens).toBeCloseTo(left, 9);
  });

  it.each([
    { name: 'a debt shrinks by one', bucket: b(-2, 0), now: 0, left: -1 },
    { name: 'refilled first', bucket: b(-1, 0), now: 500, left: 1 },
    { name: 'never above burst', bucket: b(3, 0), now: 0, left: 3 },
  ])('giveBack: $name', ({ bucket, now, left }) => {
    expect(giveBack(bucket, rate, now).tokens).toBeCloseTo(left, 9);
  });

  it('N requests at once: the first `burst` pass, then one per 1/qps', () => {
    let bucket = fullBucket(rate, 0);
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      const r = reserve(bucket, rate, 0);
      bucket = r.bucket;
      waits.push(r.waitMs);
    }
    expect(waits).toEqual([0, 0, 0, 500, 1000, 1500, 2000]);
  });

  it.each([
    { qps: 50, burst: 100, expected: { perSecond: 50, burst: 100 } },
    { qps: 0, burst: 0, expected: { perSecond: 5, burst: 10 } },
    { qps: 0, burst: 30, expected: { perSecond: 5, burst: 30 } },
    { qps: 12.5, burst: 0, expected: { perSecond: 12.5, burst: 10 } },
    { qps: -1, burst: 10, expected: undefined },
  ])('clientRate(--kube-api-qps=$qps, --kube-api-burst=$burst) as client-go', ({ qps, burst, expected }) => {
    expect(clientRate(qps, burst)).toEqual(expected);
  });
});

/** A clock that moves only when a sleeper is woken. */
function fakeClock(): LimiterClock & { readonly sleeps: number[]; t: number } {
  const c = {
    t: 0,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: (ms: number) => {
      c.sleeps.push(ms);
      return Promise.resolve();
    },
  };
  return c;
}

describe('TokenBucketLimiter', () => {
  it('lets the burst through and spaces the rest at 1/qps, in order', async () => {
    const clock = fakeClock();
    const limiter = new TokenBucketLimiter({ perSecond: 10, burst: 2 }, clock);
    await Promise.all(Array.from({ length: 5 }, () => limiter.wait()));
    expect(clock.sleeps).toEqual([100, 200, 300]);
    // After a quiet second the bucket is full again.
    clock.sleeps.length = 0;
    clock.t = 1_000 + 300;
    await limiter.wait();
    await limiter.wait();
    await limiter.wait();
    expect(clock.sleeps).toEqual([100]);
  });

  it('with --kube-api-qps=0 uses client-go’s default 5 QPS / burst 10', async () => {
    const clock = fakeClock();
    const limiter = childRequestLimiter(0, 0, clock);
    await Promise.all(Array.from({ length: 12 }, () => limiter.wait()));
    expect(clock.sleeps).toEqual([200, 400]);
  });

  it('an aborted wait rejects and gives its token back, so the next caller waits less', async () => {
    const limiter = childRequestLimiter(10, 1);
    await limiter.wait(); // the burst
    const ctl = new AbortController();
    const abandoned = limiter.wait(ctl.signal); // due in 100 ms
    ctl.abort(new Error('term ended'));
    await expect(abandoned).rejects.toThrow('term ended');
    const started = performance.now();
    await limiter.wait();
    // Without the token given back this caller would be due 200 ms after the burst.
    expect(performance.now() - started).toBeLessThan(150);
    await expect(limiter.wait(AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
  });

  it('spaces real requests at a low QPS', async () => {
    const limiter = childRequestLimiter(20, 1);
    const started = performance.now();
    const at: number[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        await limiter.wait();
        at.push(performance.now() - started);
      }),
    );
    // 1 at once, then 50 ms apart: the fourth after ~150 ms.
    expect(at[0]).toBeLessThan(40);
    expect(at[3]).toBeGreaterThanOrEqual(145);
  });
});
