// Reading the agent's transition log: entries into a state, for flat and parallel machines alike (a
// parallel machine's state is logged as its regions' states joined with commas).

import type { LogLine } from './agent-process.ts';

/** Whether a transition line enters `state` of `machine` (a region's state, for parallel machines). */
export function enters(l: LogLine, machine: string, state: string): boolean {
  const t = l.transition;
  return t?.machine === machine && t.to.split(',').includes(state) && !t.from.split(',').includes(state);
}
