import { createActor, fromEventObservable, fromPromise, SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { heartbeatDelays, heartbeatTiming } from '../../../machines/heartbeat/timing.ts';
import { fakeStream } from './fake-stream.ts';
import { computeClusterStatus, type ClusterStatus, type Collected } from '../../../machines/heartbeat/decisions.ts';
import { heartbeatMachine, type HeartbeatEvent, type ReportInput } from '../../../machines/heartbeat/machine.ts';
import { stateName } from '../../../src/logging/transitions.ts';

const facts = {
  agentVersion: 'v0.1.0',
  apiserverUrl: 'https://child:6443',
  appPusher: false,
  useSocket: false,
  kubeQps: 50,
  kubeBurst: 100,
  heartbeatFrequencySeconds: 180,
  predictor: { enabled: false, address: '', directAccess: false },
};
function status(at: number, over: Partial<Collected> = {}): ClusterStatus {
  return computeClusterStatus(
    {
      observedAt: new Date(at).toISOString(),
      version: { gitVersion: 'v1.35.4', platform: 'linux/amd64' },
      probes: { healthz: true, livez: true, readyz: true },
      nodes: { statistics: { readyNodes: 3 }, capacity: { cpu: '8', memory: '16Gi' }, allocatable: {} },
      clusterCidr: undefined,
      serviceCidr: undefined,
      podStatistics: undefined,
      resourceUsage: undefined,
      ...over,
    },
    facts,
  );
}

const fail = (kind: string, message = kind) => Object.assign(new Error(message), { kind });
type Outcome = 'ok' | Error;

// The shipped timing (machines/heartbeat/timing.ts) for a collect frequency of 20 s and a report
// period of 180 s, without jitter.
const delays = heartbeatDelays(heartbeatTiming({ collectFrequencyMs: 20_000, updateFrequencyMs: 180_000 }), () => 0);

/** Runs the machine with fakes under a simulated clock. */
function start(opts: { outcomes?: Outcome[]; probes?: () => Collected['probes'] } = {}) {
  const clock = new SimulatedClock();
  const outcomes = [...(opts.outcomes ?? [])];
  const reports: { at: number; status: ClusterStatus | undefined }[] = [];
  const collections: number[] = [];
  const watches: ((e: HeartbeatEvent) => void)[] = [];
  const rejected: string[] = [];
  const nodeWarnings: number[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let refreshes = 0;
  const machine = heartbeatMachine.provide({
    actors: {
      watchNodes: fromEventObservable<HeartbeatEvent, undefined>(() =>
        fakeStream<HeartbeatEvent>((send) => watches.push(send)),
      ),
      collect: fromPromise(() => {
        collections.push(clock.now());
        return Promise.resolve(status(clock.now(), opts.probes === undefined ? {} : { probes: opts.probes() }));
      }),
      report: fromPromise<{ seconds: number }, ReportInput>(async ({ input }) => {
        reports.push({ at: clock.now(), status: input.status });
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await Promise.resolve();
        inFlight--;
        const o = outcomes.shift() ?? 'ok';
        if (o !== 'ok') throw o;
        return { seconds: 0 };
      }),
      refresh: fromPromise(() => {
        refreshes++;
        return Promise.resolve(undefined);
      }),
    },
    delays,
    actions: {
      notifyCredentialsRejected: ({ context }) => {
        rejected.push(context.lastFailure ?? '');
      },
      warnNodesNotSynced: () => {
        nodeWarnings.push(clock.now());
      },
    },
  });
  const actor = createActor(machine, { input: { clusterId: 'id', dedicatedNamespace: 'ns' }, clock });
  actor.start();
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 8; i++) await new Promise((r) => setImmediate(r));
  };
  /** Advances simulated time in steps, letting promises settle after each. */
  const advance = async (ms: number, step = 100): Promise<void> => {
    await settle();
    for (let t = 0; t < ms; t += step) {
      clock.increment(Math.min(step, ms - t));
      await settle();
    }
  };
  const region = (name: 'nodes' | 'collection' | 'reporting'): string =>
    stateName((actor.getSnapshot().value as Record<string, unknown>)[name]);
  const send = (e: HeartbeatEvent): void => {
    watches.at(-1)?.(e);
  };
  return {
    actor,
    clock,
    reports,
    collections,
    watches,
    rejected,
    nodeWarnings,
    advance,
    region,
    send,
    stats: () => ({ maxInFlight, refreshes }),
    context: () => actor.getSnapshot().context,
  };
}

describe('heartbeat statechart', () => {
  it('reports the first collection at once, then every period after the previous report', async () => {
    const h = start();
    await h.advance(0);
    expect(h.region('collection')).toBe('waitingForNodes');
    h.send({ type: 'nodes.synced' });
    await h.advance(0);
    expect(h.collections).toEqual([0]);
    expect(h.reports.map((r) => r.at)).toEqual([0]);
    await h.advance(400_000, 1000);
    // Collections every 20 s; reports at 0, 180 s, 360 s (each carrying the latest collection).
    expect(h.collections.length).toBe(21);
    expect(h.reports.map((r) => r.at)).toEqual([0, 180_000, 360_000]);
    // A report carries the latest collection (at 180 s the collection and the report fall due together).
    expect([160_000, 180_000].map((t) => new Date(t).toISOString())).toContain(h.reports[1]?.status?.lastObservedTime);
    expect(h.context()).toMatchObject({ reports: 3, attempt: 0 });
  });

  it('never collects or reports before the first node list (as Go); warns once after nodeSyncTimeout', async () => {
    const h = start();
    await h.advance(29_900);
    expect(h.nodeWarnings).toEqual([]);
    await h.advance(100);
    expect(h.nodeWarnings).toEqual([30_000]);
    // A failed list is retried; still nothing goes out without node figures.
    h.send({ type: 'nodes.watchEnded', kind: 'failed', message: 'nodes is forbidden' });
    await h.advance(120_000, 1000);
    expect(h.collections).toEqual([]);
    expect(h.reports).toEqual([]);
    expect(h.nodeWarnings).toEqual([30_000]);
    expect(h.region('collection')).toBe('waitingForNodes');
    h.send({ type: 'nodes.synced' });
    await h.advance(0);
    expect(h.collections).toEqual([150_000]);
    expect(h.reports.map((r) => r.at)).toEqual([150_000]);
    expect(h.reports[0]?.status?.capacity).toEqual({ cpu: '8', memory: '16Gi' });
  });

  it('goes on collecting on the last node figures while the node watch relists or backs off', async () => {
    const h = start();
    h.send({ type: 'nodes.synced' });
    await h.advance(0);
    h.send({ type: 'nodes.watchEnded', kind: 'expired', message: '410 Gone' }); // relists
    await h.advance(1_000);
    h.send({ type: 'nodes.watchEnded', kind: 'failed', message: 'listing nodes: 503' });
    await h.advance(60_000, 1000);
    expect(h.region('collection')).not.toBe('waitingForNodes');
    expect(h.collections).toEqual([0, 20_000, 40_000, 60_000]);
    expect(h.nodeWarnings).toEqual([]);
  });

  it('reports a significant change early, but never within the spacing of the previous report', async () => {
    let readyz = true;
    const h = start({ probes: () => ({ healthz: false, livez: true, readyz }) });
    h.send({ type: 'nodes.synced' });
    await h.advance(0);
    readyz = false; // seen by the collection at 20 s
    await h.advance(20_000);
    expect(h.reports.map((r) => r.at)).toEqual([0, 20_000]);
    expect(h.reports[1]?.status?.conditions[0]?.status).toBe('False');
    readyz = true; // a flapping probe: collected every second through node changes
    for (let i = 0; i < 8; i++) {
      h.send({ type: 'nodes.changed' });
      await h.advance(1_000);
      readyz = !readyz;
    }
    await h.advance(5_000);
    // Changes within the spacing are held until it ends, then sent as one report with the latest status.
    const early = h.reports.filter((r) => r.at > 20_000 && r.at < 40_000).map((r) => r.at);
    expect(early).toEqual([30_000]);
    for (let i = 1; i < h.reports.length; i++) {
      expect((h.reports[i]?.at ?? 0) - (h.reports[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(10_000);
    }
  });

  it('collects soon after a node change, once per debounce window', async () => {
    const h = start();
    h.send({ type: 'nodes.synced' });
    await h.advance(5_000);
    h.send({ type: 'nodes.changed' });
    h.send({ type: 'nodes.changed' });
    await h.advance(500);
    h.send({ type: 'nodes.changed' });
    await h.advance(1_000);
    expect(h.collections).toEqual([0, 6_000]);
  });

  it('re-reads the ManagedCluster after a conflict and tries again with backoff', async () => {
    const h = start({ outcomes: [fail('conflict'), fail('conflict'), 'ok'] });
    h.send({ type: 'nodes.synced' });
    await h.advance(1_000, 50);
    expect(h.reports.map((r) => r.at)).toEqual([0, 200, 600]);
    expect(h.stats().refreshes).toBe(2);
    expect(h.context()).toMatchObject({ attempt: 0, reports: 1, lastFailure: undefined });
  });

  it('keeps collecting while the parent is down, one request at a time, and sends the latest status when back', async () => {
    const down = Array.from({ length: 12 }, () => fail('unreachable', 'connect ECONNREFUSED'));
    const h = start({ outcomes: [...down, 'ok'] });
    h.send({ type: 'nodes.synced' });
    await h.advance(200_000, 100);
    const at = h.reports.map((r) => r.at);
    // 200, 400, 800, … ms backoff, capped at 30 s.
    const gaps = at.slice(1).map((t, i) => t - (at[i] ?? 0));
    expect(gaps.slice(0, 5)).toEqual([200, 400, 800, 1600, 3200]);
    expect(Math.max(...gaps)).toBe(30_000);
    expect(h.stats().maxInFlight).toBe(1);
    expect(h.collections.length).toBeGreaterThanOrEqual(10);
    const last = h.reports.at(-1);
    const latestBefore = h.collections.filter((t) => t <= (last?.at ?? 0)).at(-1) ?? -1;
    expect(last?.status?.lastObservedTime).toBe(new Date(latestBefore).toISOString());
    expect(h.reports.length).toBe(13);
    expect(h.context()).toMatchObject({ reports: 1, attempt: 0 });
  });

  it('tells the agent when the parent rejects the dedicated credentials', async () => {
    const h = start({ outcomes: [fail('unauthorized', 'reporting: 401 Unauthorized')] });
    h.send({ type: 'nodes.synced' });
    await h.advance(0);
    expect(h.rejected).toEqual(['reporting: 401 Unauthorized']);
    expect(h.region('reporting')).toBe('backingOff');
  });

  it('resumes a node watch that expired at once, and backs off after one that failed', async () => {
    const h = start();
    await h.advance(0);
    expect(h.watches.length).toBe(1);
    h.send({ type: 'nodes.watchEnded', kind: 'expired', message: 'closed' });
    await h.advance(0);
    expect(h.watches.length).toBe(2);
    h.send({ type: 'nodes.watchEnded', kind: 'failed', message: 'boom' });
    await h.advance(400);
    expect(h.region('nodes')).toBe('backingOff');
    await h.advance(100);
    expect(h.watches.length).toBe(3);
    expect(h.region('nodes')).toBe('watching');
    h.send({ type: 'nodes.synced' });
    await h.advance(0);
    expect(h.context().watchAttempt).toBe(0);
  });
});
