import { createActor, fromCallback, fromPromise, sendParent, setup, SimulatedClock, type Actor } from 'xstate';
import { checkBeforeTimers } from '../../../src/clock.ts';
import { describe, expect, it } from 'vitest';
import { agentMachine } from '../../../machines/agent/machine.ts';
import { agentTiming } from '../../../machines/agent/timing.ts';
import { leadershipMachine, termGuards } from '../../../machines/leadership/machine.ts';
import { registrationMachine } from '../../../machines/registration/machine.ts';
import type { heartbeatMachine } from '../../../machines/heartbeat/machine.ts';
import type { socketMachine } from '../../../machines/socket/machine.ts';
import type { deployerMachine } from '../../../machines/deployer/machine.ts';
import type { predictorMachine } from '../../../machines/predictor/machine.ts';
import { transitionRecorder } from '../../../src/logging/transitions.ts';
import { FakeLeaseStore, settle } from './lease-store.ts';
import { electionTiming } from '../../../machines/leadership/timing.ts';
import { shippedConfig } from './shipped-config.ts';

// The shipped numbers (15 s / 10 s / 2 s, client-go's), through the builder src/ uses.
const timing = electionTiming(shippedConfig().leaderElection);
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
  /** How long the deployer takes to drain (its helm runs to exit) once asked; never, when Infinity. */
  drainMs = 0,
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
  const warnings: number[] = [];
  const component = (name: string) =>
    fromCallback<{ type: string }, { enabled?: boolean }>(({ input, receive, sendBack }) => {
      receive((e) => {
        components.push(`${name} got ${e.type}`);
        const drained = (): void => {
          components.push(`${name} drained`);
          sendBack({ type: 'deployer.drained' });
        };
        if (e.type !== 'deployer.drain' || drainMs === Infinity) return;
        if (drainMs === 0) drained();
        else clock.setTimeout(drained, drainMs);
      });
      components.push(input.enabled === false ? `${name} start (disabled)` : `${name} start`);
      return () => components.push(`${name} stop`);
    });
  const machine = agentMachine.provide({
    actors: {
      leadership: leadershipMachine.provide({ actors: store.actors(), guards: termGuards(() => clock.now()) }),
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
    actions: {
      warnDrainIncomplete: () => {
        warnings.push(clock.now());
      },
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
  return { actor, trace, life, components, forwarded, warnings, snapshot: () => actor.getSnapshot() };
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
  it('runs the heartbeat and the tunnel (disabled without SocketConnection) while serving; forwards rejections and confirmations', async () => {
    const clock = new SimulatedClock();
    const withTunnel = replica(clock, new FakeLeaseStore(clock), 'a', 1000, true);
    const without = replica(clock, new FakeLeaseStore(clock), 'b', 1000, false);
    await settle(clock, 3000);
    expect(withTunnel.components).toEqual(['deployer start', 'heartbeat start', 'socket start']);
    expect(without.components).toEqual(['deployer start', 'heartbeat start', 'socket start (disabled)']);
    withTunnel.actor.send({ type: 'credentials.rejected', component: 'heartbeat', message: 'heartbeat: 401' });
    await settle(clock);
    expect(withTunnel.forwarded).toEqual(['heartbeat: 401']);
    // Registration's re-check passed: the tunnel (waiting after a 403) hears it.
    withTunnel.actor.send({ type: 'credentials.confirmed' });
    await settle(clock);
    expect(withTunnel.components.slice(3)).toEqual(['socket got credentials.confirmed']);
    withTunnel.actor.send({ type: 'registration.revoked' });
    await settle(clock);
    expect(withTunnel.components.slice(4).sort()).toEqual(['deployer stop', 'heartbeat stop', 'socket stop']);
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

  it('on agent.stop drains the deployer (its helm runs exit) before it leaves leading and releases the Lease', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const a = replica(clock, store, 'a', 1000, false, undefined, 5000);
    await settle(clock, 3000);
    const stopAt = clock.now();
    a.actor.send({ type: 'agent.stop' });
    await settle(clock);
    // The other components stop at once; the deployer is asked to drain and goes on until it has.
    expect(a.components.slice(3)).toEqual(['heartbeat stop', 'socket stop', 'deployer got deployer.drain']);
    expect(store.writes.find((w) => w.record.holderIdentity === '')).toBeUndefined();
    await settle(clock, 4999);
    expect(a.life.at(-1)?.event).toBe('start'); // still leading: registration runs
    await settle(clock, 1);
    expect(a.components.slice(6)).toEqual(['deployer drained', 'deployer stop']);
    expect(a.life.at(-1)).toEqual({ event: 'stop', at: stopAt + 5000 });
    expect(store.writes.find((w) => w.record.holderIdentity === '')?.at).toBe(stopAt + 5000);
    expect(a.trace.slice(-2)).toEqual(['stopping', 'stopped']);
    expect(a.warnings).toEqual([]);
  });

  it('releases the Lease after drainDeadline when the deployer does not drain, with a warning', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const a = replica(clock, store, 'a', 1000, false, undefined, Infinity);
    await settle(clock, 3000);
    const stopAt = clock.now();
    a.actor.send({ type: 'agent.stop' });
    await settle(clock, agentTiming.drainDeadlineMs - 1);
    expect(store.writes.find((w) => w.record.holderIdentity === '')).toBeUndefined();
    await settle(clock, 1);
    expect(a.warnings).toEqual([stopAt + agentTiming.drainDeadlineMs]);
    expect(a.components.at(-1)).toBe('deployer stop');
    expect(store.writes.find((w) => w.record.holderIdentity === '')?.at).toBe(stopAt + agentTiming.drainDeadlineMs);
    expect(a.snapshot().output).toEqual({ failure: undefined });
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

  // After SIGSTOP past the deadline and SIGCONT, every overdue timer fires at once, in the order they
  // were due: a work timer (the deployer's periodic read) due before the deadline fires before the
  // deadline's timer. With the agent's clock (src/agent.ts), leadership checks its deadline before any
  // timer acts, so that work never runs; with a bare clock it does (the control row).
  it.each([
    ['a bare clock (control: the work runs after the deadline)', false, 1],
    ['the agent clock: leadership checks its deadline before any timer', true, 0],
  ])('a leader frozen past its deadline, with %s', async (_name, checked, lateWork) => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const work: number[] = [];
    // The deployer stand-in: a leader-only read every 1.5 s, on a machine delay.
    const deployer = setup({ delays: { period: 1500 } }).createMachine({
      initial: 'idle',
      states: {
        idle: {
          after: { period: { target: 'idle', reenter: true, actions: () => work.push(clock.now()) } },
        },
      },
    });
    const registration = setup({}).createMachine({
      initial: 'registering',
      states: { registering: { after: { 500: 'registered' } }, registered: { entry: sendParent(registered) } },
    });
    const machine = agentMachine.provide({
      actors: {
        leadership: leadershipMachine.provide({ actors: store.actors(), guards: termGuards(() => clock.now()) }),
        registration: registration as unknown as typeof registrationMachine,
        heartbeat: fromCallback(() => undefined) as unknown as typeof heartbeatMachine,
        socket: fromCallback(() => undefined) as unknown as typeof socketMachine,
        deployer: deployer as unknown as typeof deployerMachine,
      },
    });
    const actor: Actor<typeof machine> = createActor(machine, {
      input: {
        leadership: { identity: 'a', enabled: true, timing },
        registration: { parentUrl: 'https://parent:6443', clusterName: undefined },
        tunnel: { enabled: false, parentUrl: 'https://parent:6443', childServer: 'https://child:6443' },
        deployer: { syncMode: 'Dual', appPusher: true },
      },
      clock: checked
        ? checkBeforeTimers(clock, () => {
            actor.send({ type: 'lease.check' });
          })
        : clock,
    });
    actor.start();
    await settle(clock, 3000); // serving from 500; renewed at 2000: leading until 12000; work at 2000
    expect(actor.getSnapshot().matches({ leading: 'serving' })).toBe(true);
    expect(work).toEqual([2000]);
    clock.increment(20_000);
    await settle(clock);
    expect(work.filter((at) => at > 12_000)).toHaveLength(lateWork);
    actor.stop();
  });

  it('tells leadership the registered cluster ID, which a recreated Lease carries', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const a = replica(clock, store, 'a');
    await settle(clock, 1500); // registered at 1000
    expect(a.snapshot().matches({ leading: 'serving' })).toBe(true);
    store.record = undefined;
    await settle(clock, 2000);
    expect(store.annotations).toEqual({ 'legacy-cluster-id': registered.clusterId });
    expect(a.snapshot().matches({ leading: 'serving' })).toBe(true);
  });

  it('ends failed, with the reason, when a child fails unexpectedly', async () => {
    const clock = new SimulatedClock();
    const store = new FakeLeaseStore(clock);
    const machine = agentMachine.provide({
      actors: {
        leadership: leadershipMachine.provide({ actors: store.actors(), guards: termGuards(() => clock.now()) }),
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
