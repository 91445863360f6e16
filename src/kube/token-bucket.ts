// Token-bucket arithmetic, pure (time is an argument): the bucket behind client-go's flowcontrol rate
// limiter, used both for requests to the child (--kube-api-qps / --kube-api-burst) and for the event
// recorder's spam filter. A bucket starts full (`burst` tokens) and refills at `perSecond`, never above
// `burst`. `tryTake` is client-go's TryAccept (take a token now or refuse); `reserve` is its Accept/Wait:
// every caller takes a token at once, the bucket may go negative, and the caller waits until its token
// would have been there, so callers are served in the order they asked.

export interface BucketRate {
  /** Tokens added per second. */
  readonly perSecond: number;
  /** Capacity: how many tokens may be taken at once after a quiet period. */
  readonly burst: number;
}

export interface TokenBucket {
  readonly tokens: number;
  /** When `tokens` was computed (ms). */
  readonly atMs: number;
}

export const fullBucket = (rate: BucketRate, nowMs: number): TokenBucket => ({ tokens: rate.burst, atMs: nowMs });

/** The bucket at `nowMs`: refilled for the time passed (a clock going back adds nothing). */
export function refill(bucket: TokenBucket, rate: BucketRate, nowMs: number): TokenBucket {
  const elapsedMs = Math.max(0, nowMs - bucket.atMs);
  const tokens = Math.min(rate.burst, bucket.tokens + (elapsedMs * rate.perSecond) / 1000);
  return { tokens, atMs: Math.max(nowMs, bucket.atMs) };
}

/** A token now, or none (the bucket unchanged but refilled). */
export function tryTake(
  bucket: TokenBucket,
  rate: BucketRate,
  nowMs: number,
): { readonly taken: boolean; readonly bucket: TokenBucket } {
  const b = refill(bucket, rate, nowMs);
  return b.tokens >= 1 ? { taken: true, bucket: { ...b, tokens: b.tokens - 1 } } : { taken: false, bucket: b };
}

/** Takes a token that may not exist yet; `waitMs` is how long until it does. */
export function reserve(
  bucket: TokenBucket,
  rate: BucketRate,
  nowMs: number,
): { readonly waitMs: number; readonly bucket: TokenBucket } {
  const b = refill(bucket, rate, nowMs);
  const tokens = b.tokens - 1;
  const waitMs = tokens >= 0 ? 0 : (-tokens * 1000) / rate.perSecond;
  return { waitMs, bucket: { ...b, tokens } };
}

/**
 * Gives back a token taken by `reserve` whose caller gave up before it was due (x/time/rate's
 * Reservation.Cancel): callers who reserved later keep their places, the next one waits less.
 */
export function giveBack(bucket: TokenBucket, rate: BucketRate, nowMs: number): TokenBucket {
  const b = refill(bucket, rate, nowMs);
  return { ...b, tokens: Math.min(rate.burst, b.tokens + 1) };
}

/** client-go's defaults when a rest.Config leaves QPS or Burst at 0 (rest.DefaultQPS / DefaultBurst). */
export const defaultClientQps = 5;
export const defaultClientBurst = 10;

/**
 * The rate of a child client from --kube-api-qps / --kube-api-burst, as client-go's REST client derives
 * it: 0 means "unset" and takes the default (5 QPS, burst 10); a negative QPS means no limit (undefined).
 */
export function clientRate(qps: number, burst: number): BucketRate | undefined {
  const perSecond = qps === 0 ? defaultClientQps : qps;
  if (perSecond < 0) return undefined;
  return { perSecond, burst: burst === 0 ? defaultClientBurst : burst };
}
