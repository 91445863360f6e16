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
  /** Registration: times in a row the parent rejected the credentials it approved (when > 0). */
  readonly rejectedApprovals?: number;
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
    const snapshot = ev.snapshot as {
      value?: unknown;
      context?: { attempt?: unknown; lastFailure?: unknown; rejectedApprovals?: unknown };
    };
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
      ...(typeof ctx.rejectedApprovals === 'number' && ctx.rejectedApprovals > 0
        ? { rejectedApprovals: ctx.rejectedApprovals }
        : {}),
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

/**
 * Whether a transition repeats one already logged while the machine loops on the same failure (the
 * parent rejecting the credentials it approved: `rejectedApprovals`): the first loop is logged at
 * info, later loops at debug, so a machine backing off says each thing once, not at every retry.
 * `seen` holds the transitions of the current streak per machine; a transition out of it clears it.
 */
export function isRepeat(record: TransitionRecord, seen: Map<string, Set<string>>): boolean {
  if (record.rejectedApprovals === undefined) {
    seen.delete(record.machine);
    return false;
  }
  const key = `${record.from} → ${record.to}`;
  const streak = seen.get(record.machine) ?? new Set<string>();
  seen.set(record.machine, streak);
  if (streak.has(key)) return true;
  streak.add(key);
  return false;
}

/** The transition log: one pino line per state change; routine ones and repeats at debug. */
export function transitionLogger(
  log: Logger,
  onTransition?: (t: TransitionRecord) => void,
  routine: RoutineStates = new Map(),
  quietRetries: ReadonlySet<string> = new Set(),
): (ev: InspectionEvent) => void {
  const streaks = new Map<string, Set<string>>();
  return transitionRecorder((record) => {
    const message = `${record.machine}: ${record.from === '' ? '(start)' : record.from} → ${record.to}`;
    const repeat = isRepeat(record, streaks);
    if (repeat || isRoutine(record, routine, quietRetries)) log.debug({ transition: record }, message);
    else log.info({ transition: record }, message);
    onTransition?.(record);
  });
}
