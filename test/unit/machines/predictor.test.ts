import { createActor, fromCallback, fromEventObservable, SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { predictorMachine, type PredictorEvent } from '../../../machines/predictor/machine.ts';
import { predictorDelays } from '../../../machines/predictor/timing.ts';
import { fakeStream } from './fake-stream.ts';

/** The machine with fakes that log their lifetimes under a simulated clock. */
function start(serve: boolean) {
  const clock = new SimulatedClock();
  const log: string[] = [];
  let watchSend: ((e: PredictorEvent) => void) | undefined;
  let serveSend: ((e: PredictorEvent) => void) | undefined;
  const warnings: string[] = [];
  const machine = predictorMachine.provide({
    actors: {
      watchCaches: fromEventObservable<PredictorEvent, undefined>(() => {
        log.push(`watch start @${String(clock.now())}`);
        return fakeStream<PredictorEvent>(
          (send) => (watchSend = send),
          () => log.push(`watch stop @${String(clock.now())}`),
        );
      }),
      serve: fromCallback<PredictorEvent>(({ sendBack }) => {
        log.push(`listen @${String(clock.now())}`);
        serveSend = sendBack;
        return () => log.push(`close @${String(clock.now())}`);
      }),
    },
    // The shipped delays, without jitter.
    delays: predictorDelays(() => 0),
    actions: {
      warnListenFailed: ({ context }) => warnings.push(context.lastFailure ?? ''),
    },
  });
  const actor = createActor(machine, { input: { serve }, clock });
  actor.start();
  return {
    clock,
    log,
    warnings,
    actor,
    watch: (e: PredictorEvent) => watchSend?.(e),
    server: (e: PredictorEvent) => serveSend?.(e),
  };
}

describe('predictor machine', () => {
  it('does nothing when the built-in predictor is not served', () => {
    const t = start(false);
    expect(t.actor.getSnapshot().value).toBe('disabled');
    expect(t.log).toEqual([]);
  });

  it('listens only once the caches are complete, and closes when stopped', () => {
    const t = start(true);
    expect(t.log).toEqual(['watch start @0']);
    t.clock.increment(5000);
    t.watch({ type: 'caches.synced' });
    expect(t.log).toEqual(['watch start @0', 'listen @5000']);
    t.actor.stop();
    expect(t.log).toContain('close @5000');
    expect(t.log).toContain('watch stop @5000');
  });

  it('keeps serving while a failed watch backs off, and resumes an expired one at once', () => {
    const t = start(true);
    t.watch({ type: 'caches.synced' });
    t.watch({ type: 'caches.watchEnded', kind: 'expired', message: 'closed' });
    expect(t.log).toEqual(['watch start @0', 'listen @0', 'watch stop @0', 'watch start @0']);
    t.watch({ type: 'caches.watchEnded', kind: 'failed', message: 'boom' });
    t.clock.increment(499);
    expect(t.log.filter((l) => l.startsWith('watch start'))).toHaveLength(2);
    t.clock.increment(1);
    t.watch({ type: 'caches.watchEnded', kind: 'failed', message: 'boom' });
    t.clock.increment(999);
    expect(t.log.filter((l) => l.startsWith('watch start'))).toHaveLength(3);
    t.clock.increment(1);
    expect(t.log.filter((l) => l.startsWith('watch start'))).toHaveLength(4);
    // The listener stayed up throughout, and a second sync does not listen again.
    t.watch({ type: 'caches.synced' });
    expect(t.log.filter((l) => l.startsWith('listen') || l.startsWith('close'))).toEqual(['listen @0']);
    expect(t.actor.getSnapshot().context.watchAttempt).toBe(0);
  });

  it('tries a listener that failed again after listenRetryDelay, with a warning', () => {
    const t = start(true);
    t.watch({ type: 'caches.synced' });
    t.server({ type: 'server.listenFailed', message: 'listen EADDRINUSE: address already in use 127.0.0.1:8080' });
    expect(t.warnings).toEqual(['listen EADDRINUSE: address already in use 127.0.0.1:8080']);
    t.clock.increment(1999);
    expect(t.log.filter((l) => l.startsWith('listen'))).toEqual(['listen @0']);
    t.clock.increment(1);
    expect(t.log.filter((l) => l.startsWith('listen') || l.startsWith('close'))).toEqual([
      'listen @0',
      'close @0',
      'listen @2000',
    ]);
  });
});
