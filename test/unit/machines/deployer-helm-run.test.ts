// The helm run chart (machines/deployer/helm-run.ts) under SimulatedClock with a fake process stream:
// whole traces for every way a run ends, the deadline and grace delays built by the shipped builder
// (helmRunLimits, helmRunDelays), and a deadline past Node's 2^31 ms timer limit on the agent's clock.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromEventObservable, SimulatedClock, toPromise } from 'xstate';
import { helmRunMachine, type HelmRunEnd, type HelmRunEvent } from '../../../machines/deployer/helm-run.ts';
import { helmDeadlineMs, helmGraceMs } from '../../../machines/deployer/helm-releases.ts';
import { helmRunDelays, helmRunLimits, shortGraceMs } from '../../../machines/deployer/timing.ts';
import { actorClock, type TimerClock } from '../../../src/clock.ts';
import { stateTrace } from '../helpers/state-trace.ts';
import { fakeStream } from './fake-stream.ts';

/** A run of the chart against a fake process: `send` is the process's stream, `signals` what the chart sent. */
function start(limits = helmRunLimits.long(60), clock: TimerClock<unknown> = new SimulatedClock()) {
  const trace: string[] = [];
  const signals: { at: number; signal: 'SIGTERM' | 'SIGKILL' }[] = [];
  const sends: ((e: HelmRunEvent) => void)[] = [];
  let unsubscribed = 0;
  const now = (): number => (clock instanceof SimulatedClock ? clock.now() : Date.now());
  const machine = helmRunMachine.provide({
    actors: {
      process: fromEventObservable<HelmRunEvent, undefined>(() =>
        fakeStream<HelmRunEvent>(
          (send) => sends.push(send),
          () => unsubscribed++,
        ),
      ),
    },
    actions: {
      terminate: () => {
        signals.push({ at: now(), signal: 'SIGTERM' });
      },
      kill: () => {
        signals.push({ at: now(), signal: 'SIGKILL' });
      },
    },
    delays: helmRunDelays(),
  });
  const actor = createActor(machine, {
    input: limits,
    clock,
    inspect: stateTrace(trace),
  });
  actor.start();
  const done = toPromise(actor);
  const send = (e: HelmRunEvent): void => {
    const s = sends.at(-1);
    if (s === undefined) throw new Error('no process stream');
    s(e);
  };
  return { actor, trace, signals, send, done, unsubscribed: () => unsubscribed };
}

const exit0 = { type: 'helm.exited', code: 0, signal: null } as const;

describe('helm run chart', () => {
  it('a run that exits by itself: running → exited, no signal, the exit in the output', async () => {
    const r = start();
    r.send(exit0);
    expect(await r.done).toEqual({
      stopped: undefined,
      killed: false,
      exit: { code: 0, signal: null },
    } satisfies HelmRunEnd);
    expect(r.trace).toEqual(['alive.running', 'exited']);
    expect(r.signals).toEqual([]);
    expect(r.unsubscribed()).toBe(1);
  });

  it('at the deadline (4 × timeout + 5 min) SIGTERM, not a millisecond before; helm exits on it', async () => {
    const clock = new SimulatedClock();
    const r = start(helmRunLimits.long(60), clock);
    const deadline = helmDeadlineMs(60);
    expect(deadline).toBe(540_000);
    clock.increment(deadline - 1);
    expect(r.signals).toEqual([]);
    clock.increment(1);
    expect(r.signals).toEqual([{ at: deadline, signal: 'SIGTERM' }]);
    r.send({ type: 'helm.exited', code: 1, signal: null });
    expect(await r.done).toEqual({ stopped: 'deadline', killed: false, exit: { code: 1, signal: null } });
    expect(r.trace).toEqual(['alive.running', 'alive.terminating', 'exited']);
  });

  it('helm ignoring SIGTERM gets SIGKILL after the grace (timeout + 30 s), and the output says so', async () => {
    const clock = new SimulatedClock();
    const r = start(helmRunLimits.long(60), clock);
    clock.increment(helmDeadlineMs(60));
    clock.increment(helmGraceMs(60) - 1);
    expect(r.signals.map((s) => s.signal)).toEqual(['SIGTERM']);
    clock.increment(1);
    expect(r.signals).toEqual([
      { at: 540_000, signal: 'SIGTERM' },
      { at: 540_000 + 90_000, signal: 'SIGKILL' },
    ]);
    r.send({ type: 'helm.exited', code: null, signal: 'SIGKILL' });
    expect(await r.done).toEqual({ stopped: 'deadline', killed: true, exit: { code: null, signal: 'SIGKILL' } });
    expect(r.trace).toEqual(['alive.running', 'alive.terminating', 'alive.killing', 'exited']);
  });

  it('a stopped reconcile: SIGTERM at once; a later deadline or overflow changes nothing', async () => {
    const clock = new SimulatedClock();
    const r = start(helmRunLimits.short(10_000), clock);
    clock.increment(1_000);
    r.send({ type: 'helm.aborted' });
    r.send({ type: 'helm.outputExceeded' });
    clock.increment(10_000); // past the deadline
    expect(r.signals).toEqual([{ at: 1_000, signal: 'SIGTERM' }]);
    clock.increment(shortGraceMs - 10_000);
    expect(r.signals.at(-1)).toEqual({ at: 1_000 + shortGraceMs, signal: 'SIGKILL' });
    r.send({ type: 'helm.exited', code: null, signal: 'SIGKILL' });
    expect(await r.done).toMatchObject({ stopped: 'aborted', killed: true });
  });

  it('too much output: SIGTERM, stopped for output', async () => {
    const r = start();
    r.send({ type: 'helm.outputExceeded' });
    expect(r.signals.map((s) => s.signal)).toEqual(['SIGTERM']);
    r.send({ type: 'helm.exited', code: null, signal: 'SIGTERM' });
    expect(await r.done).toEqual({ stopped: 'output', killed: false, exit: { code: null, signal: 'SIGTERM' } });
  });

  it('a process that could not be started ends the run with its error', async () => {
    const r = start();
    r.send({
      type: 'helm.exited',
      code: -2,
      signal: null,
      spawnError: { code: 'ENOENT', message: 'spawn helm ENOENT' },
    });
    expect(await r.done).toEqual({
      stopped: undefined,
      killed: false,
      exit: { code: -2, signal: null, spawnError: { code: 'ENOENT', message: 'spawn helm ENOENT' } },
    });
  });

  it('the shipped limits: short runs have a 30 s grace, long ones timeout + 30 s', () => {
    expect(helmRunLimits.short(120_000)).toEqual({ deadlineMs: 120_000, graceMs: 30_000 });
    expect(helmRunLimits.long(300)).toEqual({ deadlineMs: (4 * 300 + 300) * 1000, graceMs: 330_000 });
  });
});

describe('helm run chart on the agent clock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a deadline past 2^31 ms (a 7-day timeout) fires at the deadline, not after 1 ms', async () => {
    vi.useFakeTimers();
    // timeoutSeconds 7 days → a deadline of 4 × 7 days + 5 min: past Node's 24.8-day timer limit.
    const timeoutSeconds = 7 * 24 * 3600;
    const limits = helmRunLimits.long(timeoutSeconds);
    expect(limits.deadlineMs).toBeGreaterThan(2 ** 31);
    const r = start(limits, actorClock);
    await vi.advanceTimersByTimeAsync(2 ** 31 + 10);
    expect(r.signals).toEqual([]);
    expect(r.trace).toEqual(['alive.running']);
    await vi.advanceTimersByTimeAsync(limits.deadlineMs - (2 ** 31 + 10));
    expect(r.signals.map((s) => s.signal)).toEqual(['SIGTERM']);
    r.send(exit0);
    expect(await r.done).toMatchObject({ stopped: 'deadline', killed: false });
  });
});
