// The agent's two clocks. Wall time (Date.now) is what other parties read: timestamps written into
// Events and Leases. Steady time never steps back: intervals the agent measures for itself (lease
// expiry, renew deadlines, the event spam filter and aggregation window) use it, so setting the node's
// clock (by hand, or a stepping NTP client) cannot shorten or stretch them.

/** Milliseconds since the epoch. */
export type Clock = () => number;

/** The wall clock: for times other parties read. */
export const wallNow: Clock = () => Date.now();

/**
 * Milliseconds since the epoch that never step back: the process's start on the wall clock plus a
 * monotonic clock. It reads as wall time at start and drifts from it only by the steps the wall clock
 * takes afterwards, so it is for measuring intervals, never for writing times others compare.
 */
export const steadyNow: Clock = () => performance.timeOrigin + performance.now();

// Timers. Node fires a setTimeout whose delay is 2^31 ms (about 24.8 days) or more after 1 ms (with a
// TimeoutOverflowWarning), so a 600h period would repeat every millisecond. Every timer of the agent
// goes through `longTimeout` instead: it waits as long as it is asked to, in chunks Node honours.

/** The longest delay Node's setTimeout honours: 2^31-1 ms. */
export const maxTimerChunkMs = 2 ** 31 - 1;

/** A pending long timer; `cancel` (or clearLongTimeout) stops it, whichever chunk it is in. */
export interface LongTimer {
  cancel(): void;
}

/**
 * Calls `fn` after `ms` milliseconds, never earlier: fractions are rounded up, delays past Node's limit
 * are waited in chunks, `Infinity` never fires. A negative delay means now (next turn of the event loop,
 * as setTimeout's 1 ms); NaN is a bug and throws.
 */
export function longTimeout(fn: () => void, ms: number): LongTimer {
  if (Number.isNaN(ms)) throw new RangeError('longTimeout: the delay is NaN');
  let remaining = ms === Infinity ? Infinity : Math.max(0, Math.ceil(ms));
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    if (remaining === Infinity) return;
    const chunk = Math.min(remaining, maxTimerChunkMs);
    remaining -= chunk;
    timer = setTimeout(remaining > 0 ? arm : fn, chunk);
  };
  arm();
  return {
    cancel: () => {
      clearTimeout(timer);
      timer = undefined;
      remaining = 0;
    },
  };
}

export function clearLongTimeout(timer: LongTimer | undefined): void {
  timer?.cancel();
}

/** Resolves after `ms` (see longTimeout), or rejects with the signal's reason when it aborts first. */
export function longSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      timer.cancel();
      reject(signal?.reason as Error);
    };
    const timer = longTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The clock given to every xstate actor (createActor's `clock`; child actors share their system's). */
export const actorClock: TimerClock<LongTimer> = {
  setTimeout: (fn, ms) => longTimeout(fn, ms),
  clearTimeout: (timer) => {
    timer.cancel();
  },
};

/** What createActor's `clock` option takes. */
export interface TimerClock<H> {
  setTimeout(fn: (...args: unknown[]) => void, ms: number): H;
  clearTimeout(handle: H): void;
}

interface CheckedTimer<H> {
  handle: H | undefined;
  cancelled: boolean;
}

/**
 * `base` with `check` run before every timer's callback; a timer cancelled by what `check` did (its
 * actor stopped) does not run. The agent's check asks leadership whether its term is over, so no work
 * timer can act after the leader's deadline, whatever order overdue timers fire in after a pause.
 */
export function checkBeforeTimers<H>(base: TimerClock<H>, check: () => void): TimerClock<CheckedTimer<H>> {
  return {
    setTimeout: (fn, ms) => {
      const timer: CheckedTimer<H> = { handle: undefined, cancelled: false };
      timer.handle = base.setTimeout(() => {
        check();
        if (!timer.cancelled) fn();
      }, ms);
      return timer;
    },
    clearTimeout: (timer) => {
      timer.cancelled = true;
      if (timer.handle !== undefined) base.clearTimeout(timer.handle);
    },
  };
}
