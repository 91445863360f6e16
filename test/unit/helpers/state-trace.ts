// An inspect callback that records the states the root actor (the one created, not its children) passes
// through, as dotted names, each change once.

import type { AnyActorRef, InspectionEvent } from 'xstate';
import { stateName } from '../../../src/logging/transitions.ts';

export function stateTrace(trace: string[]): (e: InspectionEvent) => void {
  return (e) => {
    if (e.type === '@xstate.snapshot' && (e.actorRef as Partial<AnyActorRef>)._parent === undefined) {
      const name = stateName((e.snapshot as unknown as { value: unknown }).value);
      if (trace.at(-1) !== name) trace.push(name);
    }
  };
}
