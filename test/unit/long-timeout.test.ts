import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { assign, createActor, setup } from 'xstate';
import { actorClock, longSleep, longTimeout, maxTimerChunkMs } from '../../src/clock.ts';

const hour = 3_600_000;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('longTimeout', () => {
  it('the fake timers model Node: a bare setTimeout of 600 h fires after 1 ms', () => {
    const fn = vi.fn();
    // Node prints a TimeoutOverflowWarning and clamps to 1 ms; the fake timers do the same.
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    setTimeout(fn, 600 * hour);
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('waits 600 h: not at 1 ms, not at 2^31 ms, at 600 h exactly, once', () => {
    const fn = vi.fn();
    longTimeout(fn, 600 * hour);
    vi.advanceTimersByTime(1);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(2 ** 31 - 1);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(600 * hour - 2 ** 31 - 1);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10_000 * hour);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('can be cancelled in a later chunk', () => {
    const fn = vi.fn();
    const t = longTimeout(fn, 2000 * hour); // four chunks
    vi.advanceTimersByTime(2 * maxTimerChunkMs + 5);
    t.cancel();
    vi.advanceTimersByTime(1000 * hour);
    expect(fn).not.toHaveBeenCalled();
  });

  it.each([
    [0, 0],
    [-5, 0],
    [1.2, 2],
    [maxTimerChunkMs, maxTimerChunkMs],
    [maxTimerChunkMs + 1, maxTimerChunkMs + 1],
    [2562047 * hour, 2562047 * hour],
  ])('%d ms fires at %d ms, not before', (delay, at) => {
    const fn = vi.fn();
    longTimeout(fn, delay);
    if (at > 0) {
      vi.advanceTimersByTime(at - 1);
      expect(fn).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
    } else {
      vi.advanceTimersByTime(0);
    }
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('never fires for Infinity, and refuses NaN', () => {
    const fn = vi.fn();
    longTimeout(fn, Infinity).cancel();
    longTimeout(fn, Infinity);
    vi.advanceTimersByTime(100_000 * hour);
    expect(fn).not.toHaveBeenCalled();
    expect(() => longTimeout(fn, NaN)).toThrow(RangeError);
  });

  it('longSleep waits as long and stops on abort', async () => {
    const done = vi.fn();
    void longSleep(700 * hour).then(done);
    await vi.advanceTimersByTimeAsync(699 * hour);
    expect(done).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(hour);
    expect(done).toHaveBeenCalledTimes(1);

    const ac = new AbortController();
    const slept = longSleep(700 * hour, ac.signal);
    await vi.advanceTimersByTimeAsync(maxTimerChunkMs + 1);
    ac.abort(new Error('stopped'));
    await expect(slept).rejects.toThrow('stopped');
  });
});

describe('actorClock', () => {
  // A machine with a 600 h period, like the heartbeat's collection with --cluster-status-collect-frequency=600h.
  const ticker = setup({ types: { context: {} as { ticks: number } }, delays: { period: 600 * hour } }).createMachine({
    context: () => ({ ticks: 0 }),
    initial: 'waiting',
    states: {
      waiting: {
        after: {
          period: { target: 'waiting', reenter: true, actions: assign({ ticks: ({ context }) => context.ticks + 1 }) },
        },
      },
    },
  });
  const parent = setup({ actors: { ticker } }).createMachine({ invoke: { id: 'ticker', src: 'ticker' } });

  it('a child actor’s 600 h delay fires at 600 h, not every millisecond', () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const withDefault = createActor(parent).start();
    const withLong = createActor(parent, { clock: actorClock }).start();
    const ticks = (a: typeof withLong): number =>
      (a.getSnapshot().children.ticker?.getSnapshot().context as { ticks: number }).ticks;
    vi.advanceTimersByTime(1000);
    // xstate's default clock is Node's setTimeout: the child repeats every millisecond.
    expect(ticks(withDefault)).toBeGreaterThan(100);
    expect(ticks(withLong)).toBe(0);
    withDefault.stop();
    vi.advanceTimersByTime(600 * hour - 1000);
    expect(ticks(withLong)).toBe(1);
    vi.advanceTimersByTime(600 * hour - 1);
    expect(ticks(withLong)).toBe(1);
    vi.advanceTimersByTime(1);
    expect(ticks(withLong)).toBe(2);
    withLong.stop();
  });
});
