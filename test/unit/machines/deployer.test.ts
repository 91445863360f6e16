import { createActor, fromCallback, fromEventObservable, fromPromise, SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import type { SyncMode, WorkerLimits } from '../../../machines/deployer/decisions.ts';
import {
  deployerMachine,
  type DeployerEvent,
  type HelmWatchInput,
  type ReconcileInput,
  type WatchInput,
} from '../../../machines/deployer/machine.ts';
import { deployerDelays, deployerTiming } from '../../../machines/deployer/timing.ts';
import { stateTrace } from '../helpers/state-trace.ts';
import { fakeStream } from './fake-stream.ts';

type Outcome = 'ok' | Error;

/** Runs the machine with fakes under a simulated clock; reconciles finish when the test says so. */
function start(
  opts: {
    syncMode?: SyncMode;
    appPusher?: boolean;
    workers?: Partial<WorkerLimits>;
    credentials?: Outcome[];
    publish?: Outcome[];
    /** How many Description / HelmRelease watch actors fail at start (throw) before one runs. */
    watchThrows?: number;
    helmWatchThrows?: number;
  } = {},
) {
  const clock = new SimulatedClock();
  const credentials = [...(opts.credentials ?? [])];
  const publish = [...(opts.publish ?? [])];
  const trace: string[] = [];
  const log: { at: number; what: string }[] = [];
  const watches: ((e: DeployerEvent) => void)[] = [];
  const drift: ((e: DeployerEvent) => void)[] = [];
  /** What the statechart told the Recovery watches (drift.rewatch), with when. */
  const rewatches: { at: number; resource: string; relist: boolean }[] = [];
  /** Generations of credentials the fake loadCredentials handed out. */
  let sessions = 0;
  const warnings: { at: number; failure: string | undefined }[] = [];
  const helmWatches: { input: HelmWatchInput; send: (e: DeployerEvent) => void }[] = [];
  let stoppedHelmWatches = 0;
  const inputs: ReconcileInput[] = [];
  /** Running reconciles by key, with how to finish them. */
  const running = new Map<string, (outcome: Outcome) => void>();
  const started: string[] = [];
  let stoppedWatches = 0;
  let watchThrows = opts.watchThrows ?? 0;
  let helmWatchThrows = opts.helmWatchThrows ?? 0;
  const machine = deployerMachine.provide({
    actors: {
      loadCredentials: fromPromise(() => {
        log.push({ at: clock.now(), what: 'load' });
        const o = credentials.shift() ?? 'ok';
        return o === 'ok' ? Promise.resolve(++sessions) : Promise.reject(o);
      }),
      publishDeployerSecret: fromPromise(() => {
        log.push({ at: clock.now(), what: 'publish' });
        const o = publish.shift() ?? 'ok';
        return o === 'ok' ? Promise.resolve(undefined) : Promise.reject(o);
      }),
      watchDescriptions: fromEventObservable<DeployerEvent, WatchInput>(() => {
        log.push({ at: clock.now(), what: 'watch' });
        if (watchThrows-- > 0) throw new Error('descriptions: no parent credentials');
        return fakeStream<DeployerEvent>(
          (send) => watches.push(send),
          () => stoppedWatches++,
        );
      }),
      watchHelm: fromEventObservable<DeployerEvent, HelmWatchInput>(({ input }) => {
        log.push({ at: clock.now(), what: 'watchHelm' });
        if (helmWatchThrows-- > 0) throw new Error('helm: no parent credentials');
        return fakeStream<DeployerEvent>(
          (send) => helmWatches.push({ input, send }),
          () => stoppedHelmWatches++,
        );
      }),
      watchDrift: fromCallback<DeployerEvent, WatchInput>(({ sendBack, receive }) => {
        drift.push(sendBack);
        receive((e) => {
          if (e.type === 'drift.rewatch') rewatches.push({ at: clock.now(), resource: e.resource, relist: e.relist });
        });
      }),
      reconcile: fromCallback<DeployerEvent, ReconcileInput>(({ input, sendBack }) => {
        started.push(input.key);
        inputs.push(input);
        running.set(input.key, (o) => {
          running.delete(input.key);
          sendBack(
            o === 'ok'
              ? { type: 'work.done', key: input.key }
              : { type: 'work.failed', key: input.key, message: o.message },
          );
        });
      }),
    },
    actions: {
      warnStartupFailure: ({ context }) => {
        warnings.push({ at: clock.now(), failure: context.lastFailure });
      },
    },
    // The shipped delays, without jitter.
    delays: deployerDelays(deployerTiming, () => 0),
  });
  const actor = createActor(machine, {
    input: {
      clusterId: 'id',
      dedicatedNamespace: 'clusternet-x',
      syncMode: opts.syncMode ?? 'Pull',
      appPusher: opts.appPusher ?? false,
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
  const send = (e: DeployerEvent): void => {
    watches.at(-1)?.(e);
  };
  const finish = async (key: string, o: Outcome = 'ok'): Promise<void> => {
    const f = running.get(key);
    if (f === undefined) throw new Error(`${key} is not running`);
    f(o);
    await settle();
  };
  return {
    actor,
    trace,
    log,
    watches,
    drift,
    rewatches,
    warnings,
    helmWatches,
    inputs,
    stoppedHelmWatches: () => stoppedHelmWatches,
    running,
    started,
    send,
    finish,
    advance,
    stoppedWatches: () => stoppedWatches,
    context: () => actor.getSnapshot().context,
  };
}

const fail = (message: string) => new Error(message);

describe('deployer statechart', () => {
  it('loads credentials, publishes the deployer secret, then watches in Pull mode', async () => {
    const d = start();
    await d.advance(0);
    expect(d.log.map((l) => l.what)).toEqual(['load', 'publish', 'watch', 'watchHelm']);
    expect(d.trace).toEqual(['loadingCredentials', 'publishing', 'deploying.watch.watching,helm.watching,drift,work']);
    expect(d.helmWatches[0]?.input).toEqual({ session: 1, dedicatedNamespace: 'clusternet-x', deploys: true });
  });

  it.each<[SyncMode, boolean]>([
    ['Push', true],
    ['Dual', true],
  ])('in %s mode with AppPusher=%s publishes the secret and stands by', async (syncMode, appPusher) => {
    const d = start({ syncMode, appPusher });
    await d.advance(60_000, 1000);
    expect(d.log.map((l) => l.what)).toEqual(['load', 'publish', 'watch', 'watchHelm']);
    expect(d.trace.at(-1)).toBe('standingBy.watch.watching,helm.watching,work');
    // Descriptions and HelmReleases only get the finalizer (spec §7.3, §7.4 step 1: every sync mode):
    // the reconcile is told it does not deploy.
    expect(d.watches).toHaveLength(1);
    expect(d.helmWatches[0]?.input).toEqual({ session: 1, dedicatedNamespace: 'clusternet-x', deploys: false });
    d.helmWatches[0]?.send({ type: 'helmRelease.changed', key: 'ns/hr' });
    d.send({ type: 'description.changed', key: 'ns/d' });
    await d.advance(0);
    expect(d.inputs).toEqual([
      { session: 1, key: 'HelmRelease:ns/hr', dedicatedNamespace: 'clusternet-x', deploys: false },
      { session: 1, key: 'ns/d', dedicatedNamespace: 'clusternet-x', deploys: false },
    ]);
    // No Recovery drift watch while standing by.
    expect(d.drift).toHaveLength(0);
  });

  it('deploys in Dual mode with AppPusher off', async () => {
    const d = start({ syncMode: 'Dual', appPusher: false });
    await d.advance(0);
    expect(d.watches).toHaveLength(1);
  });

  it('retries the start-up steps with backoff, forever', async () => {
    const d = start({ credentials: [fail('no secret'), fail('no secret'), fail('no secret')], publish: [fail('403')] });
    await d.advance(60_000, 500);
    expect(d.log.map((l) => `${l.what}@${String(l.at)}`)).toEqual([
      'load@0',
      'load@5000',
      'load@15000',
      'load@35000',
      'publish@35000',
      'publish@40000',
      'watch@40000',
      'watchHelm@40000',
    ]);
    expect(d.context()).toMatchObject({ attempt: 0, lastFailure: undefined });
  });

  it('backs off a missing app-deployer ServiceAccount to a cap and warns once per kind of failure', async () => {
    // As src/ throws it: a classified Failure (machines/failure.ts).
    const missing = Object.assign(new Error('reading ServiceAccount cnet/clusternet-app-deployer: 404 Not Found'), {
      kind: 'notFound' as const,
    });
    const noToken = new Error('the app-deployer secret cnet/clusternet-app-deployer has no token yet');
    const d = start({ credentials: [...Array<typeof missing>(9).fill(missing), noToken, noToken, missing] });
    await d.advance(31 * 60_000, 1_000);
    const loads = d.log.filter((l) => l.what === 'load').map((l) => l.at / 1000);
    // 5 s doubling to the 5 min cap (Go: every 5 s, forever, each at info).
    expect(loads).toEqual([0, 5, 15, 35, 75, 155, 315, 615, 915, 1215, 1515, 1815]);
    expect(d.warnings).toEqual([
      { at: 0, failure: missing.message },
      { at: 1_215_000, failure: noToken.message },
      { at: 1_815_000, failure: missing.message },
    ]);
    expect(d.trace.at(-1)).toBe('waitingForCredentials');
    expect(d.context()).toMatchObject({ attempt: 12, startupFailure: 'loadCredentials: notFound' });
  });

  it('runs at most `workers` reconciles, one per key, and queues a change of an active key once', async () => {
    const d = start({ workers: { Description: 2 } });
    await d.advance(0);
    for (const k of ['a', 'b', 'c', 'a', 'b', 'd']) d.send({ type: 'description.changed', key: k });
    await d.advance(0);
    expect(d.started).toEqual(['a', 'b']);
    expect(d.context().queue).toEqual({ pending: ['c', 'd'], active: ['a', 'b'], dirty: ['a', 'b'] });
    await d.finish('a');
    expect(d.started).toEqual(['a', 'b', 'c']);
    await d.finish('b');
    expect(d.started).toEqual(['a', 'b', 'c', 'd']);
    await d.finish('c');
    await d.finish('d');
    expect(d.started).toEqual(['a', 'b', 'c', 'd', 'a', 'b']);
    await d.finish('a');
    await d.finish('b');
    expect(d.context()).toMatchObject({ queue: { pending: [], active: [], dirty: [] }, reconciled: 6 });
    expect(d.actor.getSnapshot().children).not.toHaveProperty('reconcile:a');
  });

  it('runs a key again when it changed while its only worker ran', async () => {
    const d = start({ workers: { Description: 1, HelmRelease: 1 } });
    await d.advance(0);
    d.send({ type: 'description.changed', key: 'a' });
    await d.advance(0);
    d.send({ type: 'description.changed', key: 'a' });
    await d.advance(0);
    expect(d.started).toEqual(['a']);
    await d.finish('a');
    expect(d.started).toEqual(['a', 'a']);
    await d.finish('a');
    expect(d.context()).toMatchObject({ queue: { pending: [], active: [], dirty: [] }, reconciled: 2 });
  });

  it('retries a failed key after its own growing backoff without blocking the others', async () => {
    const d = start({ workers: { Description: 1, HelmRelease: 1 } });
    await d.advance(0);
    d.send({ type: 'description.changed', key: 'bad' });
    d.send({ type: 'description.changed', key: 'good' });
    await d.advance(0);
    await d.finish('bad', fail('apply failed'));
    expect(d.started).toEqual(['bad', 'good']);
    await d.finish('good');
    expect(d.context().failures).toEqual({ bad: 1 });
    await d.advance(900);
    expect(d.started).toHaveLength(2);
    await d.advance(100);
    expect(d.started).toEqual(['bad', 'good', 'bad']);
    await d.finish('bad', fail('apply failed'));
    await d.advance(1900);
    expect(d.started).toHaveLength(3);
    await d.advance(100);
    expect(d.started).toHaveLength(4);
    await d.finish('bad');
    expect(d.context().failures).toEqual({});
    expect(d.context().lastFailure).toBe('apply failed');
  });

  it('queues HelmReleases in the same queue, prefixed with their kind, with workers of their own', async () => {
    const d = start({ workers: { Description: 1, HelmRelease: 1 } });
    await d.advance(0);
    const helm = d.helmWatches[0]?.send;
    helm?.({ type: 'helmRelease.changed', key: 'ns/a' });
    // A HelmChart change queues Descriptions through the same watch.
    helm?.({ type: 'description.changed', key: 'ns/a' });
    helm?.({ type: 'helmRelease.changed', key: 'ns/a' });
    helm?.({ type: 'helmRelease.changed', key: 'ns/b' });
    await d.advance(0);
    // The HelmRelease worker is busy; the Description has a worker of its own.
    expect(d.context().queue).toEqual({
      pending: ['HelmRelease:ns/b'],
      active: ['HelmRelease:ns/a', 'ns/a'],
      dirty: ['HelmRelease:ns/a'],
    });
    await d.finish('ns/a');
    expect(d.started).toEqual(['HelmRelease:ns/a', 'ns/a']);
    await d.finish('HelmRelease:ns/a');
    await d.finish('HelmRelease:ns/b');
    await d.finish('HelmRelease:ns/a');
    expect(d.started).toEqual(['HelmRelease:ns/a', 'ns/a', 'HelmRelease:ns/b', 'HelmRelease:ns/a']);
    expect(d.inputs.every((i) => i.deploys)).toBe(true);
  });

  it('keeps serving Descriptions while every HelmRelease worker runs a long helm (spec §7.1.6)', async () => {
    const d = start();
    await d.advance(0);
    for (const k of ['h1', 'h2', 'h3', 'h4']) d.helmWatches[0]?.send({ type: 'helmRelease.changed', key: `ns/${k}` });
    for (const k of ['a', 'b', 'c']) d.send({ type: 'description.changed', key: `ns/${k}` });
    await d.advance(0);
    expect(d.started).toEqual(['HelmRelease:ns/h1', 'HelmRelease:ns/h2', 'ns/a', 'ns/b']);
    await d.finish('ns/a');
    await d.finish('ns/b');
    await d.finish('ns/c');
    expect(d.started.slice(4)).toEqual(['ns/c']);
    expect(d.context().queue.pending).toEqual(['HelmRelease:ns/h3', 'HelmRelease:ns/h4']);
    await d.finish('HelmRelease:ns/h1');
    expect(d.started.at(-1)).toBe('HelmRelease:ns/h3');
  });

  it('resumes an expired HelmRelease watch at once and backs off a failed one on its own counter', async () => {
    const d = start();
    await d.advance(0);
    d.helmWatches[0]?.send({ type: 'helm.watchEnded', kind: 'expired', message: 'closed' });
    await d.advance(0);
    expect(d.helmWatches).toHaveLength(2);
    d.helmWatches[1]?.send({ type: 'helm.watchEnded', kind: 'failed', message: 'helmreleases forbidden' });
    await d.advance(0);
    expect(d.trace.at(-1)).toBe('deploying.watch.watching,helm.backingOff,drift,work');
    expect(d.context()).toMatchObject({ attempt: 0, helmAttempt: 1, lastFailure: 'helmreleases forbidden' });
    await d.advance(400);
    expect(d.helmWatches).toHaveLength(2);
    await d.advance(100);
    expect(d.helmWatches).toHaveLength(3);
    d.helmWatches[2]?.send({ type: 'helm.synced' });
    await d.advance(0);
    expect(d.context().helmAttempt).toBe(0);
    // The Description watch was never disturbed.
    expect(d.watches).toHaveLength(1);
    expect(d.stoppedHelmWatches()).toBe(2);
  });

  it('backs off a watch whose actor fails further each time, and says why', async () => {
    const d = start({ watchThrows: 2, helmWatchThrows: 3 });
    await d.advance(0);
    expect(d.context()).toMatchObject({ attempt: 1, helmAttempt: 1 });
    expect(d.context().lastFailure).toMatch(/no parent credentials/);
    const at = (what: string) => d.log.filter((l) => l.what === what).map((l) => l.at);
    await d.advance(10_000);
    // Description watch: 500 ms, 1 s, then it runs; HelmRelease watch, on its own counter: 500 ms,
    // 1 s, 2 s, then it runs.
    expect(at('watch')).toEqual([0, 500, 1500]);
    expect(at('watchHelm')).toEqual([0, 500, 1500, 3500]);
    expect(d.context()).toMatchObject({ attempt: 2, helmAttempt: 3, lastFailure: 'helm: no parent credentials' });
    d.send({ type: 'descriptions.synced' });
    d.helmWatches[0]?.send({ type: 'helm.synced' });
    await d.advance(0);
    expect(d.context()).toMatchObject({ attempt: 0, helmAttempt: 0 });
  });

  it('queues the owner again on drift', async () => {
    const d = start();
    await d.advance(0);
    d.drift.at(-1)?.({ type: 'drift.detected', key: 'ns/x' });
    await d.advance(0);
    expect(d.started).toEqual(['ns/x']);
  });

  it('resumes an idle watch that ended at once, never through backingOff (issue 13 #6)', async () => {
    const d = start();
    await d.advance(0);
    for (let i = 0; i < 4; i++) {
      // What client-node's Watch reports after 30 s without data, classified by machines/watch.ts.
      d.send({ type: 'descriptions.watchEnded', kind: 'ended', message: 'Description watch idle; resuming' });
      d.helmWatches.at(-1)?.send({ type: 'helm.watchEnded', kind: 'ended', message: 'HelmRelease watch idle' });
      await d.advance(0);
    }
    expect(d.watches).toHaveLength(5);
    expect(d.helmWatches).toHaveLength(5);
    expect(d.trace.some((t) => t.includes('backingOff'))).toBe(false);
    expect(d.context()).toMatchObject({ attempt: 0, helmAttempt: 0, lastFailure: undefined });
  });

  it('watches a Recovery kind again at once after an idle end, and after its own backoff after a failure', async () => {
    const d = start();
    await d.advance(0);
    const drift = d.drift.at(-1);
    drift?.({ type: 'drift.watching', resource: 'v1/ConfigMap' });
    drift?.({ type: 'drift.watchEnded', resource: 'v1/ConfigMap', kind: 'ended', message: 'idle' });
    drift?.({ type: 'drift.watchEnded', resource: 'apps/v1/Deployment', kind: 'expired', message: '410' });
    await d.advance(0);
    expect(d.rewatches).toEqual([
      { at: 0, resource: 'v1/ConfigMap', relist: false },
      { at: 0, resource: 'apps/v1/Deployment', relist: true },
    ]);
    drift?.({ type: 'drift.watchEnded', resource: 'v1/ConfigMap', kind: 'failed', message: 'connection refused' });
    await d.advance(400);
    expect(d.rewatches).toHaveLength(2);
    await d.advance(100);
    expect(d.rewatches.at(-1)).toEqual({ at: 500, resource: 'v1/ConfigMap', relist: false });
    drift?.({ type: 'drift.watchEnded', resource: 'v1/ConfigMap', kind: 'failed', message: 'connection refused' });
    await d.advance(1_000);
    expect(d.rewatches.at(-1)).toEqual({ at: 1_500, resource: 'v1/ConfigMap', relist: false });
    expect(d.context().driftAttempts).toEqual({ 'v1/ConfigMap': 2 });
    drift?.({ type: 'drift.watching', resource: 'v1/ConfigMap' });
    await d.advance(0);
    expect(d.context().driftAttempts).toEqual({});
    // The other regions never noticed.
    expect(d.trace.at(-1)).toBe('deploying.watch.watching,helm.watching,drift,work');
  });

  it('lists a Recovery kind again after 410 Gone, through failed attempts, until a watch of it is open', async () => {
    const d = start();
    await d.advance(0);
    const drift = d.drift.at(-1);
    const kind = 'apps/v1/Deployment';
    drift?.({ type: 'drift.watching', resource: kind });
    drift?.({ type: 'drift.watchEnded', resource: kind, kind: 'failed', message: 'connection refused' });
    await d.advance(500);
    // A failure of a watch that had been open resumes where it was.
    expect(d.rewatches).toEqual([{ at: 500, resource: kind, relist: false }]);
    drift?.({ type: 'drift.watching', resource: kind });
    drift?.({ type: 'drift.watchEnded', resource: kind, kind: 'expired', message: '410 Gone' });
    await d.advance(0);
    expect(d.rewatches.at(-1)).toEqual({ at: 500, resource: kind, relist: true });
    expect(d.context().driftRelists).toEqual([kind]);
    // The relist fails: the next attempt (after the backoff) still lists first.
    drift?.({ type: 'drift.watchEnded', resource: kind, kind: 'failed', message: 'listing deployments: HTTP 500' });
    await d.advance(500);
    expect(d.rewatches.at(-1)).toEqual({ at: 1_000, resource: kind, relist: true });
    // Open again: the next failure resumes from the relist's version.
    drift?.({ type: 'drift.watching', resource: kind });
    await d.advance(0);
    expect(d.context().driftRelists).toEqual([]);
    drift?.({ type: 'drift.watchEnded', resource: kind, kind: 'failed', message: 'connection refused' });
    await d.advance(500);
    expect(d.rewatches.at(-1)).toEqual({ at: 1_500, resource: kind, relist: false });
  });

  it('keeps which credentials are in use as a generation number, renewed by every load', async () => {
    const d = start({ publish: [fail('parent unreachable')] });
    await d.advance(0);
    expect(d.context().session).toBe(1);
    await d.advance(10_000, 1000);
    // The start-up loop retries publishing with the credentials of generation 1 (loaded once).
    expect(d.log.map((l) => l.what)).toEqual(['load', 'publish', 'publish', 'watch', 'watchHelm']);
    expect(d.context().session).toBe(1);
    expect(d.inputs).toEqual([]);
    d.send({ type: 'description.changed', key: 'ns/d' });
    await d.advance(0);
    expect(d.inputs).toEqual([{ session: 1, key: 'ns/d', dedicatedNamespace: 'clusternet-x', deploys: true }]);
  });

  it('resumes an expired watch at once and backs off a failed one; queued work goes on meanwhile', async () => {
    const d = start();
    await d.advance(0);
    d.send({ type: 'description.changed', key: 'k' });
    d.send({ type: 'descriptions.watchEnded', kind: 'expired', message: 'closed' });
    await d.advance(0);
    expect(d.watches).toHaveLength(2);
    d.send({ type: 'descriptions.watchEnded', kind: 'failed', message: 'connection refused' });
    await d.advance(0);
    expect(d.trace.at(-1)).toBe('deploying.watch.backingOff,helm.watching,drift,work');
    expect(d.context()).toMatchObject({ attempt: 1, lastFailure: 'connection refused' });
    await d.advance(400);
    expect(d.watches).toHaveLength(2);
    await d.advance(100);
    expect(d.watches).toHaveLength(3);
    // The reconcile started before the failure is still there and finishes normally.
    await d.finish('k');
    d.send({ type: 'descriptions.synced' });
    await d.advance(0);
    expect(d.context()).toMatchObject({ attempt: 0, reconciled: 1 });
    expect(d.stoppedWatches()).toBe(2);
  });

  it('stops every watch and worker when stopped (leadership lost)', async () => {
    const d = start();
    await d.advance(0);
    d.send({ type: 'description.changed', key: 'k' });
    await d.advance(0);
    d.actor.stop();
    expect(d.stoppedWatches()).toBe(1);
    expect(d.stoppedHelmWatches()).toBe(1);
    expect(d.actor.getSnapshot().status).toBe('stopped');
  });
});
