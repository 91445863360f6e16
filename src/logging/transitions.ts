// The state-transition log: one JSON line per state change of any machine in an actor system, taken
// from xstate's inspection events. Event payloads are never logged (only their type), so nothing
// secret can leak through them.

import type { InspectionEvent } from 'xstate';
import type { Logger } from './logger.ts';

export interface TransitionRecord {
  readonly machine: string;
  readonly from: string;
  readonly to: string;
  readonly event: string;
  readonly attempt?: number;
  readonly lastFailure?: string;
}

/** Dotted form of an xstate state value: `awaitingApproval.polling`. */
export function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') {
    return Object.entries(value)
      .map(([k, v]) =>
        v === undefined || (typeof v === 'object' && Object.keys(v as object).length === 0)
          ? k
          : `${k}.${stateName(v)}`,
      )
      .join(',');
  }
  return String(value);
}

/**
 * An inspect callback that reports each change of state of every machine actor it sees. Microsteps
 * are read too, so a state left at once by an `always` transition (e.g. `credentialsRevoked`) is still
 * reported.
 */
export function transitionRecorder(onTransition: (t: TransitionRecord) => void): (ev: InspectionEvent) => void {
  const last = new Map<string, string>();
  return (ev) => {
    if (ev.type !== '@xstate.snapshot' && ev.type !== '@xstate.microstep') return;
    const snapshot = ev.snapshot as { value?: unknown; context?: { attempt?: unknown; lastFailure?: unknown } };
    if (snapshot.value === undefined) return; // not a machine (promise and callback actors)
    const id = ev.actorRef.sessionId;
    const machine = (ev.actorRef as { logic?: { id?: string } }).logic?.id ?? id;
    const to = stateName(snapshot.value);
    const from = last.get(id) ?? '';
    if (from === to) return;
    last.set(id, to);
    const ctx = snapshot.context ?? {};
    onTransition({
      machine,
      from,
      to,
      event: ev.event.type,
      ...(typeof ctx.attempt === 'number' && ctx.attempt > 0 ? { attempt: ctx.attempt } : {}),
      ...(typeof ctx.lastFailure === 'string' ? { lastFailure: ctx.lastFailure } : {}),
    });
  };
}

/**
 * The states of a machine's steady loop, by machine id, as dotted `region.state` names: a transition
 * that only moves regions among them (the heartbeat's collection every 20 s) is logged at debug, so the
 * info log shows what an operator acts on.
 */
export type RoutineStates = ReadonlyMap<string, ReadonlySet<string>>;

/** xstate's event for an invoked actor that failed: `xstate.error.actor.<id>`. */
const isErrorEvent = (type: string): boolean => type.startsWith('xstate.error.');

/**
 * Whether every region that changed moved between two routine states of that machine, and not
 * because something failed: a collection that errors (`collecting → idle` on `xstate.error.actor.*`)
 * is logged at info with its lastFailure. For the machines in `quietRetries` (which warn once per
 * kind of failure themselves), a failure repeated (attempt > 1) is routine too.
 */
export function isRoutine(
  record: TransitionRecord,
  routine: RoutineStates,
  quietRetries: ReadonlySet<string> = new Set(),
): boolean {
  const states = routine.get(record.machine);
  if (states === undefined || record.from === '') return false;
  const repeated = quietRetries.has(record.machine) && (record.attempt ?? 0) > 1;
  if (isErrorEvent(record.event) && !repeated) return false;
  const from = record.from.split(',');
  const to = record.to.split(',');
  if (from.length !== to.length) return false;
  let changed = false;
  for (let i = 0; i < from.length; i++) {
    const a = from[i] ?? '';
    const b = to[i] ?? '';
    if (a === b) continue;
    if (!states.has(a) || !states.has(b)) return false;
    changed = true;
  }
  return changed;
}

/** The transition log: one pino line per state change; routine ones at debug. */
export function transitionLogger(
  log: Logger,
  onTransition?: (t: TransitionRecord) => void,
  routine: RoutineStates = new Map(),
  quietRetries: ReadonlySet<string> = new Set(),
): (ev: InspectionEvent) => void {
  return transitionRecorder((record) => {
    const message = `${record.machine}: ${record.from === '' ? '(start)' : record.from} → ${record.to}`;
    if (isRoutine(record, routine, quietRetries)) log.debug({ transition: record }, message);
    else log.info({ transition: record }, message);
    onTransition?.(record);
  });
}
