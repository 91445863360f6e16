// The socket machine's reconnect timing: one policy per way the tunnel fails (machines/socket/decisions.ts
// classifies), and the delay functions the chart's named delays are provided with. src/tunnel, the unit
// tests and `npm run bench:reconnect-storm` all use these, so what is measured is what ships.

import { nextDelay, type BackoffPolicy } from '../backoff.ts';
import { deadPeerTimeoutMs, handshakeTimeoutMs, pingIntervalMs, readerHeldTimeoutMs } from './decisions.ts';

/**
 * The first redial after a session or the first attempt failed, for a parent that is unreachable: spread
 * over 0.2–2 s, because a hub that goes away ends every agent's session in the same instant and a fleet
 * redialling within the same 60 ms would herd it the moment it is back.
 */
export const firstRetryPolicy: BackoffPolicy = { initialMs: 2000, factor: 1, maxMs: 2000, jitter: 0.9 };

/**
 * Later redials while the parent stays unreachable (connection refused or reset, DNS, timeouts): every
 * 0.9–1.2 s, so the tunnel is back within 1.2 s of the parent's return however long it was away (the Go
 * agent waits 10–11.5 s between attempts, spec §5.3). They cost the parent nothing: nothing answers them.
 */
export const unreachablePolicy: BackoffPolicy = { initialMs: 1200, factor: 1, maxMs: 1200, jitter: 0.25 };

/**
 * A live parent that answers the handshake with an error status (404, 500, …; a gateway error 502/503/504 is the fast path), drops the session
 * before answering a ping, fails TLS, or any failure not known to be transient: 4 s doubling to a cap of
 * 60 s, jittered downwards by up to 30 % (42–60 s at the cap, about one handshake a minute).
 */
export const refusedPolicy: BackoffPolicy = { initialMs: 4000, factor: 2, maxMs: 60_000, jitter: 0.3 };

/** 401: the parent rejects the dedicated token; registration re-checks and re-registers meanwhile. */
export const rejectedPolicy: BackoffPolicy = { initialMs: 5000, factor: 2, maxMs: 60_000, jitter: 0.3 };

/**
 * 403, after registration confirmed the credentials: the first redial is at once (a hub still starting
 * answers 403 for a moment); each further 403 in a row waits 250 ms doubling to 60 s, so a parent whose
 * RBAC lacks the `sockets` rule for good is asked about once a minute, as for any other error status.
 */
export const recheckedPolicy: BackoffPolicy = { initialMs: 250, factor: 2, maxMs: 60_000, jitter: 0.3 };

/** 403 with no answer from registration: redial after this long anyway (longer when 403s repeat). */
export const recheckFallbackPolicy: BackoffPolicy = { initialMs: 5000, factor: 2, maxMs: 60_000, jitter: 0.3 };

/** `rand` returns a number in [0, 1). Delays of the nth failure in a row of one kind (n ≥ 1). */
export type DelayFunction = (attempt: number, rand: () => number) => number;

/** Before redialling a parent that was unreachable. */
export const unreachableDelay: DelayFunction = (attempt, rand) =>
  attempt <= 1 ? nextDelay(1, firstRetryPolicy, rand) : nextDelay(attempt - 1, unreachablePolicy, rand);

/** Before redialling a live parent that refused the handshake or dropped the session. */
export const refusedDelay: DelayFunction = (attempt, rand) => nextDelay(Math.max(1, attempt), refusedPolicy, rand);

/** Before redialling after a 401. */
export const rejectedDelay: DelayFunction = (attempt, rand) => nextDelay(Math.max(1, attempt), rejectedPolicy, rand);

/** Between registration's confirmation and the redial, after the nth 403 in a row: 0 for the first. */
export const recheckedDelay: DelayFunction = (attempt, rand) =>
  attempt <= 1 ? 0 : nextDelay(attempt - 1, recheckedPolicy, rand);

/** Before redialling after a 403 when registration has not answered: never shorter than recheckedDelay. */
export const recheckFallbackDelay: DelayFunction = (attempt, rand) =>
  Math.max(
    nextDelay(Math.max(1, attempt), recheckFallbackPolicy, rand),
    recheckedDelay(attempt, () => 0),
  );

/** The socket machine's reconnect delays (socketDelays builds them with the rest). */
export function reconnectDelays(rand: () => number) {
  const of =
    (f: DelayFunction) =>
    ({ context }: { readonly context: { readonly attempt: number } }): number =>
      f(context.attempt, rand);
  return {
    unreachableRetry: of(unreachableDelay),
    refusedRetry: of(refusedDelay),
    rejectedRetry: of(rejectedDelay),
    recheckedRetry: of(recheckedDelay),
    recheckFallback: of(recheckFallbackDelay),
  };
}

/** The socket machine's timing as numbers: what src/ passes (from configuration or a test). */
export interface SocketTiming {
  readonly pingIntervalMs: number;
  readonly deadPeerTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly readerHeldTimeoutMs: number;
  /**
   * A fixed wait replacing a reconnect policy, for tests of something other than that policy (the
   * shipped policies are the delay functions above, used when these are absent).
   */
  readonly unreachableRetryMs?: number;
  readonly refusedRetryMs?: number;
  readonly rejectedRetryMs?: number;
  readonly recheckedRetryMs?: number;
  readonly recheckFallbackMs?: number;
}

/** The shipped timing (spec §5.6). */
export const defaultSocketTiming: SocketTiming = {
  pingIntervalMs,
  deadPeerTimeoutMs,
  handshakeTimeoutMs,
  readerHeldTimeoutMs,
};

/**
 * Every named delay of the socket machine, from numbers (`timing`, defaults for what it leaves out) and
 * the randomness of the jitter: what src/tunnel provides, and what the unit tests and the benches use.
 */
export function socketDelays(rand: () => number, timing: Partial<SocketTiming> = {}) {
  const t: SocketTiming = { ...defaultSocketTiming, ...timing };
  const reconnect = reconnectDelays(rand);
  const fixed = <T>(ms: number | undefined, policy: T): T | number => ms ?? policy;
  return {
    unreachableRetry: fixed(t.unreachableRetryMs, reconnect.unreachableRetry),
    refusedRetry: fixed(t.refusedRetryMs, reconnect.refusedRetry),
    rejectedRetry: fixed(t.rejectedRetryMs, reconnect.rejectedRetry),
    recheckedRetry: fixed(t.recheckedRetryMs, reconnect.recheckedRetry),
    recheckFallback: fixed(t.recheckFallbackMs, reconnect.recheckFallback),
    pingInterval: t.pingIntervalMs,
    deadPeerTimeout: t.deadPeerTimeoutMs,
    readerHeldTimeout: t.readerHeldTimeoutMs,
    handshakeTimeout: t.handshakeTimeoutMs,
  };
}
