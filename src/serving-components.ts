// The registered components' effects (the heartbeat, the tunnel, the deployer with its helm, the
// built-in predictor, the multi-cluster services syncer) run only while this replica leads and is
// registered, so their modules are imported when it first leads, not at start-up: a standby replica
// never loads them. A component whose gate is off (machines/agent/components.ts) is not imported at
// all; its chart, provided without effects, sits `disabled`.
//
// The root machine takes its children's logic when it is created, and invokes a child synchronously,
// so each component is provided to it as a stand-in (`deferred` below) for the loaded logic. The
// loading starts with registration's first step of a term (src/agent.ts wraps `resolveIdentity`,
// which waits for it), and `registration.registered`, which starts the components, comes after
// that step: the stand-ins are always loaded when invoked. Not loaded then would be a bug, and it
// ends the agent loudly (the root's error).

import type { KubeConfig } from '@kubernetes/client-node';
import type { AnyStateMachine, InspectionEvent } from 'xstate';
import { componentsWithEffects, type ServingComponent } from '../machines/agent/components.ts';
import type { AgentInput } from '../machines/agent/machine.ts';
import { deployerMachine } from '../machines/deployer/machine.ts';
import { heartbeatMachine } from '../machines/heartbeat/machine.ts';
import { mcsMachine } from '../machines/mcs/machine.ts';
import { predictorMachine } from '../machines/predictor/machine.ts';
import { socketMachine } from '../machines/socket/machine.ts';
import type { AgentConfig } from './config/config.ts';
import { childRequestLimiter } from './kube/request-limiter.ts';
import type { ProxyEnv, ProxyFunc } from './kube/proxy.ts';
import type { Logger } from './logging/logger.ts';
import type { ParentAccess } from './parent/access.ts';
import type { StreamRelay } from './tunnel/stream-relay.ts';

/** What the components' factories are given. */
export interface ServingDeps {
  readonly config: AgentConfig;
  readonly log: Logger;
  readonly env: ProxyEnv;
  readonly child: KubeConfig;
  readonly proxyFor: ProxyFunc;
  /** The parent with the dedicated credentials. */
  readonly parent: () => Promise<ParentAccess>;
  /** The tunnel's targets beside the configured ones (the published predictor's address). */
  readonly tunnelTargets: readonly string[];
  /** Each new tunnel session's relay (the tunnel metrics count across sessions). */
  readonly onRelay: (relay: StreamRelay) => void;
  /** The agent's inspection stream, for charts run outside the root's tree (the helm runs). */
  readonly inspect: (ev: InspectionEvent) => void;
}

/** The components' logic as the root invokes them (the ids of its `serving` invokes). */
export interface ServingMachines {
  readonly heartbeat: typeof heartbeatMachine;
  readonly socket: typeof socketMachine;
  readonly deployer: typeof deployerMachine;
  readonly predictor: typeof predictorMachine;
  readonly mcs: typeof mcsMachine;
}

const heartbeatWithEffects = async (d: ServingDeps): Promise<typeof heartbeatMachine> => {
  const { createHeartbeatMachine } = await import('./heartbeat/actors.ts');
  const { config, child, env, parent } = d;
  return createHeartbeatMachine({ config, child, log: d.log.child({ component: 'heartbeat' }), env, parent });
};

// The heartbeat and the deployer each limit their child requests with a bucket of their own
// (--kube-api-qps/--kube-api-burst), as the Go agent's separate clients do: a large rollout must not
// hold up the health probes. The Lease and the tunnel are not limited.
const deployerWithEffects = async (d: ServingDeps): Promise<typeof deployerMachine> => {
  const { createDeployerMachine } = await import('./deployer/actors.ts');
  const { config, child, parent, inspect } = d;
  return createDeployerMachine({ config, child, log: d.log.child({ component: 'deployer' }), parent, inspect });
};

const socketWithEffects = async (d: ServingDeps): Promise<typeof socketMachine> => {
  const { createSocketMachine } = await import('./tunnel/actors.ts');
  const { config } = d;
  return createSocketMachine({
    log: d.log.child({ component: 'tunnel' }),
    allowedTargets: [...config.extensions.tunnelAllowedTargets, ...d.tunnelTargets],
    child: d.child,
    systemNamespace: config.systemNamespace,
    proxyFor: d.proxyFor,
    onRelay: d.onRelay,
  });
};

const predictorWithEffects = async (d: ServingDeps): Promise<typeof predictorMachine> => {
  const { createPredictorMachine } = await import('./predictor/actors.ts');
  const { config } = d;
  return createPredictorMachine({
    child: d.child,
    log: d.log.child({ component: 'predictor' }),
    host: '127.0.0.1',
    port: config.predictor.port,
    limiter: childRequestLimiter(config.child.qps, config.child.burst),
  });
};

// Gate MultiClusterService: ServiceExports' EndpointSlices mirrored into the dedicated namespace (spec §7.7).
const mcsWithEffects = async (d: ServingDeps): Promise<typeof mcsMachine> => {
  const { createMcsMachine } = await import('./mcs/actors.ts');
  const { config, child, parent } = d;
  return createMcsMachine({ config, child, log: d.log.child({ component: 'mcs' }), parent });
};

/** Imports and builds the components that run effects; the others are their charts as they are. */
export async function loadServingMachines(
  d: ServingDeps,
  needs: ReadonlySet<ServingComponent>,
): Promise<ServingMachines> {
  const [heartbeat, socket, deployer, predictor, mcs] = await Promise.all([
    heartbeatWithEffects(d),
    needs.has('socket') ? socketWithEffects(d) : socketMachine,
    deployerWithEffects(d),
    needs.has('predictor') ? predictorWithEffects(d) : predictorMachine,
    needs.has('mcs') ? mcsWithEffects(d) : mcsMachine,
  ]);
  return { heartbeat, socket, deployer, predictor, mcs };
}

/**
 * Stands in for a component's logic until it is loaded, then is it: every property read goes to the
 * loaded logic (methods bound to it), so the invoked actor runs the loaded machine itself. Invoked
 * before it is loaded, it throws.
 */
export function deferred<T extends AnyStateMachine>(name: string, chart: T, loaded: () => T | undefined): T {
  return new Proxy(chart, {
    get(target, key) {
      const logic = loaded();
      if (logic === undefined) {
        if (key === 'getInitialSnapshot') throw new Error(`${name} was started before its effects were loaded`);
        return Reflect.get(target, key) as unknown;
      }
      const value = Reflect.get(logic, key) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(logic) : value;
    },
  });
}

/** The serving components for the root: stand-ins now, and `load()` (once) to import their effects. */
export interface DeferredServing {
  readonly machines: ServingMachines;
  /** Starts loading (the first call) and resolves when every stand-in is its loaded logic. */
  readonly load: () => Promise<void>;
}

export function deferredServing(d: ServingDeps, input: AgentInput): DeferredServing {
  const needs = componentsWithEffects(input);
  let loaded: ServingMachines | undefined;
  let loading: Promise<void> | undefined;
  const load = (): Promise<void> => {
    loading ??= loadServingMachines(d, needs).then(
      (m) => {
        loaded = m;
      },
      (err: unknown) => {
        // Not thrown here (registration goes on); the first component invoked says it, ending the agent.
        d.log.error({ err }, 'cannot load the registered components');
      },
    );
    return loading;
  };
  return {
    load,
    machines: {
      heartbeat: deferred('heartbeat', heartbeatMachine, () => loaded?.heartbeat),
      socket: deferred('socket', socketMachine, () => loaded?.socket),
      deployer: deferred('deployer', deployerMachine, () => loaded?.deployer),
      predictor: deferred('predictor', predictorMachine, () => loaded?.predictor),
      mcs: deferred('mcs', mcsMachine, () => loaded?.mcs),
    },
  };
}
