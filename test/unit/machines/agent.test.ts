import { createActor, fromCallback, fromPromise, sendParent, setup, SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { agentMachine } from '../../../machines/agent/machine.ts';
import { leadershipMachine } from '../../../machines/leadership/machine.ts';
import { registrationMachine } from '../../../machines/registration/machine.ts';
import type { heartbeatMachine } from '../../../machines/heartbeat/machine.ts';
import type { socketMachine } from '../../../machines/socket/machine.ts';
import type { deployerMachine } from '../../../machines/deployer/machine.ts';
import type { predictorMachine } from '../../../machines/predictor/machine.ts';
import { transitionRecorder } from '../../../src/logging/transitions.ts';
import { FakeLeaseStore, settle } from './lease-store.ts';

const timing = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 };
const registered = {
  type: 'registration.registered',
  clusterId: '11111111-2222-3333-4444-555555555555',
  clusterName: 'c-1',
  dedicatedNamespace: 'clusternet-abcde',
} as const;

/**
 * A replica: the root machine with the real leadership machine on a shared fake Lease, and a
 * registration stand-in that registers `registerAfterMs` after it starts and logs its lifetime.
 */
function replica(
  clock: SimulatedClock,
  store: FakeLeaseStore,
  identity: string,
  registerAfterMs = 1000,
  tunnelEnabled = false,
  servePredictor?: boolean,
) {
  const life: { event: 'start' | 'stop'; at: number }[] = [];
  const components: string[] = [];
  const forwarded: string[] = [];
  const trace: string[] = [];
  const registration = setup({
    actors: {
      lifetime: fromCallback(() => {
        life.push({ event: 'start', at: clock.now() });
        return () => life.push({ event: 'stop', at: clock.now() });
      }),
    },
  }).createMachine({
    id: 'registration',
    invoke: { id: 'lifetime', src: 'lifetime' },
    on: {
      'credentials.rejected': {
        actions: ({ event }) => forwarded.push((event as unknown as { message: string }).message),
      },
    },
    initial: 'registering',
    states: {
      registering: { after: { [registerAfterMs]: 'registered' } },
      registered: { entry: sendParent(registered) },
    },
  });
  // The registered components only record when they run (their own tests cover them).
  const component = (name: string) =>
    fromCallback<{ type: string }, { enabled?: boolean }>(({ input }) => {
      components.push(input.enabled === false ? `${name} start (disabled)` : `${name} start`);
      return () => components.push(`${name} stop`);
    });
  const machine = agentMachine.provide({
    actors: {
      leadership: leadershipMachine.provide({ actors: store.actors() }),
      registration: registration as unknown as typeof registrationMachine,
      heartbeat: component('heartbeat') as unknown as typeof heartbeatMachine,
      socket: component('socket') as unknown as typeof socketMachine,
      deployer: component('deployer') as unknown as typeof deployerMachine,
      ...(servePredictor === undefined
        ? {}
        : {
            predictor: fromCallback<{ type: string }, { serve: boolean }>(({ input }) => {
              components.push(input.serve ? 'predictor start' : 'predictor start (disabled)');
              return () => components.push('predictor stop');
            }) as unknown as typeof predictorMachine,
          }),
    },
  });
  const actor = createActor(machine, {
    input: {
      leadership: { identity, enabled: true, timing },
      registration: { parentUrl: 'https://parent:6443', clusterName: undefined },
      tunnel: { enabled: tunnelEnabled, parentUrl: 'https://parent:6443', childServer: 'https://child:6443' },
      deployer: { syncMode: 'Dual', appPusher: true },
      ...(servePredictor === undefined ? {} : { predictor: { serve: servePredictor } }),
    },
    clock,
    inspect: transitionRecorder((t) => {
      // The serving regions' own states (heartbeat, tunnel) are the components' business here.
      const to = t.to.startsWith('leading.serving') ? 'leading.serving' : t.to;
      if (t.machine === 'agent' && trace.at(-1) !== to) trace.push(to);
    }),
  });
  actor.start();
  return { actor, trace, life, components, forwarded, snapshot: () => actor.getSnapshot() };
}

/** Intervals [start, stop) during which a replica's registration (its work) ran. */
function intervals(life: { event: string; at: number }[], end: number): [number, number][] {
  const out: [number, number][] = [];
  for (const [i, l] of life.entries()) {
    if (l.event !== 'start') continue;
    const stop = life.slice(i + 1).find((x) => x.event === 'stop');
    out.push([l.at, stop?.at ?? end]);
  }
  return out;
}

describe('agent machine', () => {
  it('runs the heartbeat and the tunnel (disabled without SocketConnection) while serving; forwards rejections', async () => {
    const clock = new SimulatedClock();
    const withTunnel = replica(clock, new FakeLeaseStore(clock), 'a', 1000, true);
    const without = replica(clock, new FakeLeaseStore(clock), 'b', 1000, false);
    await settle(clock, 3000);
    expect(withTunnel.components).toEqual(['heartbeat start', 'socket start', 'deployer start']);
    expect(without.components).toEqual(['heartbeat start', 'socket start (disabled)', 'deployer start']);
    withTunnel.actor.send({ type: 'credentials.rejected', message: 'heartbeat: 401' });
    await settle(clock);
    expect(withTunnel.forwarded).toEqual(['heartbeat: 401']);
    withTunnel.actor.send({ type: 'registration.revoked' });
    await settle(clock);
    expect(withTunnel.components.slice(3).sort()).toEqual(['deployer stop', 'heartbeat stop', 'socket stop']);
  });

  it('runs the predictor only while it leads and is registered; a standby runs none', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const a = replica(clock, store, 'a', 1000, false, true);
    await settle(clock, 500);
    expect(a.components).toEqual([]); // leading, not registered yet
    await settle(clock, 1000);
    const b = replica(clock, store, 'b', 1000, false, true);
    await settle(clock, 3000);
    expect(a.components).toContain('predictor start');
    expect(b.components).toEqual([]);
    a.actor.send({ type: 'registration.revoked' });
    await settle(clock);
    expect(a.components).toContain('predictor stop');
    const off = replica(clock, new FakeLeaseStore(clock), 'c', 1000, false, false);
    await settle(clock, 3000);
    expect(off.components).toContain('predictor start (disabled)');
  });

  it('standby → registering → serving once it leads; a standby runs nothing', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const a = replica(clock, store, 'a');
    await settle(clock);
    const b = replica(clock, store, 'b');
    await settle(clock, 5000);
    expect(a.trace).toEqual(['standby', 'leading.registering', 'leading.serving']);
    expect(a.snapshot().context.registered?.clusterId).toBe(registered.clusterId);
    expect(b.trace).toEqual(['standby']);
    expect(b.life).toEqual([]);
    expect(a.life).toEqual([{ event: 'start', at: 0 }]);
  });

  it('stops the work when leadership is lost, before a standby can lead, and restarts it when regained', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    store.latencyMs = 20;
    const a = replica(clock, store, 'a');
    await settle(clock, 100, 10);
    const b = replica(clock, store, 'b');
    await settle(clock, 3000, 10);
    store.paused = true; // a's renewals hang
    await settle(clock, 10_500, 10);
    expect(a.trace.slice(-1)).toEqual(['standby']);
    expect(a.life.at(-1)?.event).toBe('stop');
    a.actor.stop(); // a stays cut off
    store.paused = false;
    await settle(clock, 30_000, 10);
    expect(b.trace).toEqual(['standby', 'leading.registering', 'leading.serving']);
    const [aWork] = intervals(a.life, clock.now());
    const [bWork] = intervals(b.life, clock.now());
    expect(aWork?.[1]).toBeLessThan(bWork?.[0] ?? 0);
  });

  it('regains leadership in the same process and restarts its children', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    store.latencyMs = 20;
    const a = replica(clock, store, 'a');
    await settle(clock, 3000, 10);
    store.paused = true;
    await settle(clock, 10_500, 10);
    store.paused = false;
    await settle(clock, 10_000, 10);
    expect(a.trace).toEqual([
      'standby',
      'leading.registering',
      'leading.serving',
      'standby',
      'leading.registering',
      'leading.serving',
    ]);
    expect(a.life.map((l) => l.event)).toEqual(['start', 'stop', 'start']);
  });

  it('on agent.stop stops the work first, then releases the Lease; a standby takes over within 2 s', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const a = replica(clock, store, 'a');
    await settle(clock);
    const b = replica(clock, store, 'b');
    await settle(clock, 5000);
    const stopAt = clock.now();
    a.actor.send({ type: 'agent.stop' });
    await settle(clock);
    expect(a.trace.slice(-2)).toEqual(['stopping', 'stopped']);
    expect(a.snapshot().status).toBe('done');
    expect(a.snapshot().output).toEqual({ failure: undefined });
    expect(a.life.at(-1)).toEqual({ event: 'stop', at: stopAt });
    const release = store.writes.find((w) => w.record.holderIdentity === '');
    expect(release?.at).toBeGreaterThanOrEqual(stopAt);
    await settle(clock, 2000);
    expect(b.trace).toContain('leading.registering');
  });

  it('goes back to registering when the credentials are revoked while serving', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const a = replica(clock, store, 'a');
    await settle(clock, 2000);
    a.actor.send({ type: 'registration.revoked' });
    await settle(clock);
    expect(a.trace.slice(-1)).toEqual(['leading.registering']);
    expect(a.snapshot().context.registered).toBeUndefined();
  });

  it('ends failed, with the reason, when a child fails unexpectedly', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const machine = agentMachine.provide({
      actors: {
        leadership: leadershipMachine.provide({ actors: store.actors() }),
        registration: fromPromise(() => Promise.reject(new Error('boom'))) as unknown as typeof registrationMachine,
      },
    });
    const actor = createActor(machine, {
      input: {
        leadership: { identity: 'a', enabled: true, timing },
        registration: { parentUrl: 'https://parent:6443', clusterName: undefined },
        tunnel: { enabled: false, parentUrl: 'https://parent:6443', childServer: 'https://child:6443' },
        deployer: { syncMode: 'Dual', appPusher: true },
      },
      clock,
    });
    actor.start();
    await settle(clock);
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().value).toBe('failed');
    expect(actor.getSnapshot().output?.failure).toMatch(/registration: Error: boom/);
  });
});
