// Which registered components have effects to run in a configuration. The heartbeat and the deployer
// always do; the tunnel, the built-in predictor and the multi-cluster services syncer each decide at
// their start, from the input the root gives them, whether to run or to sit `disabled` (the socket's
// `starting`, the predictor's `deciding`, the syncer's `starting`), and disabled they invoke nothing.
// src/agent.ts loads the effects of the components listed here only (docs/memory.md).

import type { AgentInput } from './machine.ts';

/** The components the root invokes while serving (`leading.serving`), by their invoke ids. */
export const servingComponents = ['heartbeat', 'socket', 'deployer', 'predictor', 'mcs'] as const;
export type ServingComponent = (typeof servingComponents)[number];

/** The serving components that run effects with this input; the others stay `disabled` throughout. */
export function componentsWithEffects(
  input: Pick<AgentInput, 'tunnel' | 'predictor' | 'multiClusterService'>,
): ReadonlySet<ServingComponent> {
  const runs: Record<ServingComponent, boolean> = {
    heartbeat: true,
    deployer: true,
    socket: input.tunnel.enabled,
    predictor: input.predictor?.serve ?? false,
    mcs: input.multiClusterService ?? false,
  };
  return new Set(servingComponents.filter((c) => runs[c]));
}
