// machines/agent/components.ts: which registered components run effects. A component left out is
// given to the root as its chart alone (src/serving-components.ts), so the root is run here with the
// charts left out as they are: they must sit `disabled` without invoking anything, while the same
// chart with its gate on would invoke an effect (and the root, given none, would fail).

import { createActor, fromCallback, sendParent, setup, type AnyActorRef } from 'xstate';
import { describe, expect, it } from 'vitest';
import { componentsWithEffects, servingComponents, type ServingComponent } from '../../../machines/agent/components.ts';
import { agentMachine } from '../../../machines/agent/machine.ts';
import { electionTiming } from '../../../machines/leadership/timing.ts';
import { shippedConfig } from './shipped-config.ts';
import { mcsMachine } from '../../../machines/mcs/machine.ts';
import { predictorMachine } from '../../../machines/predictor/machine.ts';
import { socketMachine } from '../../../machines/socket/machine.ts';
import type { deployerMachine } from '../../../machines/deployer/machine.ts';
import type { heartbeatMachine } from '../../../machines/heartbeat/machine.ts';
import type { leadershipMachine } from '../../../machines/leadership/machine.ts';
import type { registrationMachine } from '../../../machines/registration/machine.ts';

const gates = (tunnel: boolean, predictor: boolean | undefined, mcs: boolean | undefined) => ({
  tunnel: { enabled: tunnel, parentUrl: 'https://parent:6443', childServer: 'https://child:6443' },
  ...(predictor === undefined ? {} : { predictor: { serve: predictor } }),
  ...(mcs === undefined ? {} : { multiClusterService: mcs }),
});

describe('componentsWithEffects', () => {
  it.each([
    [false, undefined, undefined, ['heartbeat', 'deployer']],
    [true, undefined, undefined, ['heartbeat', 'socket', 'deployer']],
    [false, true, false, ['heartbeat', 'deployer', 'predictor']],
    [false, false, true, ['heartbeat', 'deployer', 'mcs']],
    [true, true, true, ['heartbeat', 'socket', 'deployer', 'predictor', 'mcs']],
  ] as const)('tunnel %s, predictor %s, mcs %s → %j', (tunnel, predictor, mcs, expected) => {
    expect([...componentsWithEffects(gates(tunnel, predictor, mcs))]).toEqual(expected);
  });
});

/** A stand-in that leads at once, or registers at once. */
const reporter = (type: 'lease.acquired' | 'registration.registered') =>
  setup({}).createMachine({
    entry: sendParent(
      type === 'lease.acquired'
        ? { type }
        : { type, clusterId: 'c', clusterName: undefined, dedicatedNamespace: 'clusternet-c' },
    ),
  });

const effectful = fromCallback(() => undefined);

/**
 * The root, leading and registered at once, with these gates; the tunnel, predictor and syncer are
 * their charts alone when `leftOut` says so, effects that do nothing otherwise.
 */
function serve(input: ReturnType<typeof gates>, leftOut: (c: ServingComponent) => boolean, spawned: string[] = []) {
  const chart = <T>(c: ServingComponent, bare: T): T => (leftOut(c) ? bare : (effectful as unknown as T));
  const machine = agentMachine.provide({
    actors: {
      leadership: reporter('lease.acquired') as unknown as typeof leadershipMachine,
      registration: reporter('registration.registered') as unknown as typeof registrationMachine,
      heartbeat: effectful as unknown as typeof heartbeatMachine,
      deployer: effectful as unknown as typeof deployerMachine,
      socket: chart('socket', socketMachine),
      predictor: chart('predictor', predictorMachine),
      mcs: chart('mcs', mcsMachine),
    },
  });
  const actor = createActor(machine, {
    input: {
      leadership: { identity: 'a', enabled: true, timing: electionTiming(shippedConfig().leaderElection) },
      registration: { parentUrl: 'https://parent:6443', clusterName: undefined },
      deployer: { syncMode: 'Dual', appPusher: true },
      ...input,
    },
    // Every actor started under a component, as `component/actor`.
    inspect: (ev) => {
      const ref = ev.actorRef as AnyActorRef;
      const parent = ev.type === '@xstate.actor' ? ref._parent?.id : undefined;
      if (parent !== undefined && (servingComponents as readonly string[]).includes(parent))
        spawned.push(`${parent}/${ref.id}`);
    },
  });
  actor.start();
  return actor;
}

type ChildView = { value: unknown; children: Record<string, unknown> } | undefined;

describe('the charts left out, as the root runs them', () => {
  it.each([
    [false, false, false],
    [true, false, false],
    [false, true, false],
    [false, false, true],
    [false, undefined, undefined],
  ] as const)('tunnel %s, predictor %s, mcs %s: serving, each left-out chart disabled', (tunnel, predictor, mcs) => {
    const input = gates(tunnel, predictor, mcs);
    const runs = componentsWithEffects(input);
    const spawned: string[] = [];
    const actor = serve(input, (c) => !runs.has(c), spawned);
    const snap = actor.getSnapshot();
    expect(snap.status).toBe('active');
    expect(snap.hasTag('registered')).toBe(true);
    const leftOut = servingComponents.filter((c) => !runs.has(c));
    expect(leftOut.length).toBeGreaterThan(0);
    for (const c of leftOut) {
      const child = snap.children[c]?.getSnapshot() as ChildView;
      expect(child?.value, c).toBe('disabled');
      expect(Object.keys(child?.children ?? {}), c).toEqual([]);
      expect(
        spawned.filter((s) => s.startsWith(`${c}/`)),
        c,
      ).toEqual([]);
    }
    actor.stop();
  });

  it.each(['socket', 'predictor', 'mcs'] as const)(
    'the %s chart with its gate on leaves `disabled` and invokes an effect',
    (component) => {
      const on = gates(component === 'socket', component === 'predictor', component === 'mcs');
      expect(componentsWithEffects(on).has(component)).toBe(true);
      const spawned: string[] = [];
      const actor = serve(on, () => true, spawned);
      const child = actor.getSnapshot().children[component]?.getSnapshot() as ChildView;
      expect(child?.value).not.toBe('disabled');
      expect(spawned.filter((s) => s.startsWith(`${component}/`)).length).toBeGreaterThan(0);
      actor.stop();
    },
  );
});
