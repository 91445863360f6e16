// src/serving-components.ts: the stand-ins the root is given for the registered components, before and
// after their effects are loaded.

import { Observable } from 'rxjs';
import { createActor, fromCallback, fromEventObservable } from 'xstate';
import { describe, expect, it } from 'vitest';
import { predictorMachine, type PredictorEvent } from '../../machines/predictor/machine.ts';
import { deferred } from '../../src/serving-components.ts';

/** The predictor chart with fakes that say when they run. */
function loadedPredictor(log: string[]): typeof predictorMachine {
  return predictorMachine.provide({
    actors: {
      watchCaches: fromEventObservable<PredictorEvent, undefined>(
        () =>
          new Observable<PredictorEvent>(() => {
            log.push('watch');
            return () => log.push('watch stopped');
          }),
      ),
      serve: fromCallback<PredictorEvent>(() => {
        log.push('serve');
        return undefined;
      }),
    },
  });
}

describe('deferred', () => {
  it('fails when started before its logic is loaded (the root, its parent, then fails)', () => {
    const standIn = deferred('predictor', predictorMachine, () => undefined);
    const actor = createActor(standIn, { input: { serve: true } });
    actor.subscribe({ error: () => undefined });
    actor.start();
    const snap = actor.getSnapshot() as { status: string; error?: unknown };
    expect(snap.status).toBe('error');
    expect(String(snap.error)).toContain('predictor was started before its effects were loaded');
  });

  it('is the loaded logic once loaded: the actor runs its effects and its snapshots are its own', () => {
    const log: string[] = [];
    const slot: { loaded?: typeof predictorMachine } = {};
    const standIn = deferred('predictor', predictorMachine, () => slot.loaded);
    slot.loaded = loadedPredictor(log);
    const loaded = slot.loaded;
    const actor = createActor(standIn, { input: { serve: true } });
    actor.start();
    expect(log).toEqual(['watch']);
    expect(actor.getSnapshot().machine).toBe(loaded);
    expect(standIn.id).toBe(predictorMachine.id);
    actor.send({ type: 'caches.synced' });
    expect(log).toEqual(['watch', 'serve']);
    actor.stop();
    expect(log).toEqual(['watch', 'serve', 'watch stopped']);
  });
});
