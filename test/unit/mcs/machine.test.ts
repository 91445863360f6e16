// The multi-cluster service statechart under a simulated clock, with fake actors: whole transition
// traces, every timer, and the work queue's behaviour (caches first, per-key backoff, stop).

import { createActor, fromCallback, fromEventObservable, fromPromise, SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { agentMachine } from '../../../machines/agent/machine.ts';
import { mcsMachine, type McsEvent, type ReconcileInput, type WatchInput } from '../../../machines/mcs/machine.ts';
import { mcsDelays } from '../../../machines/mcs/timing.ts';
import { fakeStream } from '../machines/fake-stream.ts';
import { stateTrace } from '../helpers/state-trace.ts';

type Outcome = 'ok' | Error;

function start(
  opts: { enabled?: boolean; versions?: (string | Error)[]; workers?: number; exportWatchThrows?: number } = {},
) {
  const clock = new SimulatedClock();
  const versions = [...(opts.versions ?? ['v1.35.4'])];
  const trace: string[] = [];
  const log: string[] = [];
  const exportWatches: ((e: McsEvent) => void)[] = [];
  const sliceWatches: ((e: McsEvent) => void)[] = [];
  const running = new Map<string, (o: Outcome) => void>();
  const started: { at: number; key: string }[] = [];
  let stoppedWatches = 0;
  let stoppedWorkers = 0;
  let exportWatchThrows = opts.exportWatchThrows ?? 0;
  const machine = mcsMachine.provide({
    actors: {
      readChildVersion: fromPromise(() => {
        log.push(`version@${String(clock.now())}`);
        const v = versions.shift() ?? 'v1.35.4';
        return v instanceof Error ? Promise.reject(v) : Promise.resolve(v);
      }),
      watchExports: fromEventObservable<McsEvent, WatchInput>(() => {
        log.push(`watchExports@${String(clock.now())}`);
        if (exportWatchThrows-- > 0) throw new Error('the ServiceExport CRD is not installed');
        return fakeStream<McsEvent>(
          (send) => exportWatches.push(send),
          () => stoppedWatches++,
        );
      }),
      watchSlices: fromEventObservable<McsEvent, WatchInput>(() => {
        log.push(`watchSlices@${String(clock.now())}`);
        return fakeStream<McsEvent>(
          (send) => sliceWatches.push(send),
          () => stoppedWatches++,
        );
      }),
      reconcile: fromCallback<McsEvent, ReconcileInput>(({ input, sendBack }) => {
        started.push({ at: clock.now(), key: input.key });
        running.set(input.key, (o) => {
          running.delete(input.key);
          sendBack(
            o === 'ok'
              ? { type: 'work.done', key: input.key }
              : { type: 'work.failed', key: input.key, message: o.message },
          );
        });
        return () => {
          stoppedWorkers++;
        };
      }),
    },
    // The shipped delays, without jitter.
    delays: mcsDelays(() => 0),
  });
  const actor = createActor(machine, {
    input: {
      enabled: opts.enabled ?? true,
      dedicatedNamespace: 'clusternet-x',
      ...(opts.workers === undefined ? {} : { workers: opts.workers }),
    },
    clock,
    inspect: stateTrace(trace),
  });
  actor.start();
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 8; i++) await new Promise((r) => setImmediate(r));
  };
  const advance = async (ms: number, step = 100): Promise<void> => {
    await settle();
    for (let t = 0; t < ms; t += step) {
      clock.increment(Math.min(step, ms - t));
      await settle();
    }
  };
  const finish = async (key: string, o: Outcome = 'ok'): Promise<void> => {
    const f = running.get(key);
    if (f === undefined) throw new Error(`${key} is not running`);
    f(o);
    await settle();
  };
  const exports = (e: McsEvent): void => exportWatches.at(-1)?.(e);
  const slices = (e: McsEvent): void => sliceWatches.at(-1)?.(e);
  return {
    actor,
    clock,
    trace,
    log,
    running,
    started,
    exports,
    slices,
    advance,
    finish,
    settle,
    stoppedWatches: () => stoppedWatches,
    stoppedWorkers: () => stoppedWorkers,
    context: () => actor.getSnapshot().context,
  };
}

const syncingState = 'syncing.exports.watching,slices.watching,work';

describe('mcs statechart', () => {
  it('without its gate sits disabled and reads, watches and writes nothing', async () => {
    const m = start({ enabled: false });
    await m.advance(60_000, 1_000);
    expect(m.trace).toEqual(['disabled']);
    expect(m.log).toEqual([]);
  });

  it('reads the child version, then watches ServiceExports and EndpointSlices', async () => {
    const m = start();
    await m.advance(0);
    expect(m.trace).toEqual(['checkingChild', syncingState]);
    expect(m.log).toEqual(['version@0', 'watchExports@0', 'watchSlices@0']);
    expect(m.context().childVersion).toBe('v1.35.4');
    expect(m.actor.getSnapshot().hasTag('mcs.syncing')).toBe(true);
  });

  it.each(['v1.20.15', 'v1.21.0-alpha.1', 'not-a-version'])('on a child at %s runs no syncer (as Go)', async (v) => {
    const m = start({ versions: [v] });
    await m.advance(60_000, 1_000);
    expect(m.trace).toEqual(['checkingChild', 'unsupported']);
    expect(m.log).toEqual(['version@0']);
  });

  it('retries the version check with backoff while the child does not answer', async () => {
    const m = start({ versions: [new Error('ECONNREFUSED'), new Error('ECONNREFUSED'), 'v1.30.0'] });
    await m.advance(5_000);
    expect(m.log.filter((l) => l.startsWith('version'))).toEqual(['version@0', 'version@1000', 'version@3000']);
    expect(m.trace).toEqual([
      'checkingChild',
      'waitingForChild',
      'checkingChild',
      'waitingForChild',
      'checkingChild',
      syncingState,
    ]);
  });

  it('reconciles nothing before both caches are complete, then every queued key once', async () => {
    const m = start({ workers: 4 });
    await m.advance(0);
    m.exports({ type: 'export.changed', key: 'shop/web' });
    m.exports({ type: 'exports.synced' });
    m.exports({ type: 'export.changed', key: 'shop/web' });
    m.slices({ type: 'export.changed', key: 'shop/api' });
    await m.advance(0);
    expect(m.started).toEqual([]);
    expect(m.context().queue.pending).toEqual(['shop/web', 'shop/api']);
    m.slices({ type: 'slices.synced' });
    await m.advance(0);
    expect(m.started.map((s) => s.key)).toEqual(['shop/web', 'shop/api']);
  });

  it('runs at most `workers` reconciles; a key changed while it runs is reconciled again after', async () => {
    const m = start({ workers: 1 });
    await m.advance(0);
    m.exports({ type: 'exports.synced' });
    m.slices({ type: 'slices.synced' });
    for (const key of ['a/1', 'a/2']) m.exports({ type: 'export.changed', key });
    await m.advance(0);
    expect([...m.running.keys()]).toEqual(['a/1']);
    m.slices({ type: 'export.changed', key: 'a/1' });
    await m.finish('a/1');
    expect([...m.running.keys()]).toEqual(['a/2']);
    await m.finish('a/2');
    expect(m.started.map((s) => s.key)).toEqual(['a/1', 'a/2', 'a/1']);
    await m.finish('a/1');
    expect(m.context().reconciled).toBe(3);
  });

  it('a failed reconcile (the parent down) comes back after a growing per-key backoff until it succeeds', async () => {
    const m = start();
    await m.advance(0);
    m.exports({ type: 'exports.synced' });
    m.slices({ type: 'slices.synced' });
    m.exports({ type: 'export.changed', key: 'shop/web' });
    await m.advance(0);
    await m.finish('shop/web', new Error('connect ECONNREFUSED parent'));
    await m.advance(1_000);
    await m.finish('shop/web', new Error('connect ECONNREFUSED parent'));
    await m.advance(2_000);
    await m.finish('shop/web', new Error('connect ECONNREFUSED parent'));
    await m.advance(4_000);
    expect(m.context().failures).toEqual({ 'shop/web': 3 });
    expect(m.context().lastFailure).toBe('connect ECONNREFUSED parent');
    await m.finish('shop/web');
    expect(m.started.map((s) => s.at)).toEqual([0, 1_000, 3_000, 7_000]);
    expect(m.context().failures).toEqual({});
    await m.advance(60_000, 1_000);
    expect(m.started).toHaveLength(4);
  });

  it('a success cancels a pending retry of the same key', async () => {
    const m = start();
    await m.advance(0);
    m.exports({ type: 'exports.synced' });
    m.slices({ type: 'slices.synced' });
    m.exports({ type: 'export.changed', key: 'k/1' });
    await m.advance(0);
    m.exports({ type: 'export.changed', key: 'k/1' }); // dirty while running
    await m.finish('k/1', new Error('conflict'));
    // requeued at once because it changed meanwhile, and succeeds: the retry timer must not fire again
    await m.finish('k/1');
    await m.advance(30_000, 500);
    expect(m.started).toHaveLength(2);
  });

  it('an expired watch resumes at once; a failed one backs off; a watch that cannot start backs off too', async () => {
    const m = start({ exportWatchThrows: 1 });
    await m.advance(0);
    expect(m.trace.at(-1)).toBe('syncing.exports.backingOff,slices.watching,work');
    await m.advance(500);
    expect(m.log.filter((l) => l.startsWith('watchExports'))).toEqual(['watchExports@0', 'watchExports@500']);
    m.exports({ type: 'exports.synced' });
    m.slices({ type: 'slices.watchEnded', kind: 'expired', message: 'EndpointSlice watch closed' });
    await m.advance(0);
    m.slices({ type: 'slices.watchEnded', kind: 'failed', message: 'EndpointSlice watch: 403' });
    await m.advance(499);
    expect(m.log.filter((l) => l.startsWith('watchSlices'))).toEqual(['watchSlices@0', 'watchSlices@500']);
    await m.advance(1);
    expect(m.log.filter((l) => l.startsWith('watchSlices'))).toEqual([
      'watchSlices@0',
      'watchSlices@500',
      'watchSlices@1000',
    ]);
    expect(m.context().exportsAttempt).toBe(0); // reset by the completed list
    expect(m.context().lastFailure).toBe('EndpointSlice watch: 403');
  });

  it('stopping it (leadership ends) stops the watches and every running reconcile', async () => {
    const m = start();
    await m.advance(0);
    m.exports({ type: 'exports.synced' });
    m.slices({ type: 'slices.synced' });
    m.exports({ type: 'export.changed', key: 'a/1' });
    m.exports({ type: 'export.changed', key: 'a/2' });
    await m.advance(0);
    m.actor.stop();
    await m.settle();
    expect(m.stoppedWatches()).toBe(2);
    expect(m.stoppedWorkers()).toBe(2);
  });
});

describe('root machine', () => {
  it('invokes the syncer in serving with the gate and the dedicated namespace, and stops it with leadership', () => {
    const seen: { enabled: boolean; dedicatedNamespace: string }[] = [];
    let stopped = 0;
    const clock = new SimulatedClock();
    const machine = agentMachine.provide({
      actors: {
        leadership: fromCallback(({ sendBack }) => {
          sendBack({ type: 'lease.acquired' });
        }) as never,
        registration: fromCallback(({ sendBack }) => {
          sendBack({
            type: 'registration.registered',
            clusterId: 'id',
            clusterName: 'c',
            dedicatedNamespace: 'clusternet-abc',
          });
        }) as never,
        heartbeat: fromCallback(() => undefined) as never,
        socket: fromCallback(() => undefined) as never,
        deployer: fromCallback(() => undefined) as never,
        mcs: fromCallback<McsEvent, { enabled: boolean; dedicatedNamespace: string }>(({ input }) => {
          seen.push(input);
          return () => {
            stopped++;
          };
        }) as never,
      },
    });
    const actor = createActor(machine, {
      clock,
      input: {
        leadership: {
          identity: 'me',
          enabled: true,
          timing: { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
        },
        registration: { parentUrl: 'https://parent', clusterName: undefined },
        tunnel: { enabled: false, parentUrl: 'https://parent', childServer: 'https://child' },
        deployer: { syncMode: 'Dual', appPusher: true },
        multiClusterService: true,
      },
    });
    actor.start();
    expect(actor.getSnapshot().matches({ leading: 'serving' })).toBe(true);
    expect(seen).toEqual([{ enabled: true, dedicatedNamespace: 'clusternet-abc' }]);
    actor.send({ type: 'lease.lost' });
    expect(stopped).toBe(1);
    actor.stop();
  });
});
