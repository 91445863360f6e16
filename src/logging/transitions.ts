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

/** Which actor a transition is of (its session id: several actors may run one machine, e.g. helm runs). */
export interface ActorOf {
  readonly machine: string;
  readonly actor: string;
}

/** The retry bookkeeping a machine's context shows, for its transition records. */
const retryFields = (ctx: {
  attempt?: unknown;
  lastFailure?: unknown;
  rejectedApprovals?: unknown;
}): Pick<TransitionRecord, 'attempt' | 'lastFailure' | 'rejectedApprovals'> => ({
  ...(typeof ctx.attempt === 'number' && ctx.attempt > 0 ? { attempt: ctx.attempt } : {}),
  ...(typeof ctx.lastFailure === 'string' ? { lastFailure: ctx.lastFailure } : {}),
  ...(typeof ctx.rejectedApprovals === 'number' && ctx.rejectedApprovals > 0
    ? { rejectedApprovals: ctx.rejectedApprovals }
    : {}),
});

/**
 * An inspect callback that reports each change of state of every machine actor it sees. Microsteps
 * are read too, so a state left at once by an `always` transition (e.g. `credentialsRevoked`) is still
 * reported. An actor that has finished (done, failed or stopped) is reported to `onEnd` and forgotten (a
 * helm run's chart, one per run).
 */
export function transitionRecorder(
  onTransition: (t: TransitionRecord, of: ActorOf) => void,
  onEnd?: (of: ActorOf) => void,
): (ev: InspectionEvent) => void {
  const last = new Map<string, string>();
  return (ev) => {
    if (ev.type !== '@xstate.snapshot' && ev.type !== '@xstate.microstep') return;
    const snapshot = ev.snapshot as {
      value?: unknown;
      status?: string;
      context?: { attempt?: unknown; lastFailure?: unknown; rejectedApprovals?: unknown };
    };
    if (snapshot.value === undefined) return; // not a machine (promise and callback actors)
    const id = ev.actorRef.sessionId;
    const machine = (ev.actorRef as { logic?: { id?: string } }).logic?.id ?? id;
    const to = stateName(snapshot.value);
    const from = last.get(id) ?? '';
    const finished = ev.type === '@xstate.snapshot' && snapshot.status !== undefined && snapshot.status !== 'active';
    const known = last.has(id);
    if (finished) last.delete(id);
    if (from !== to) {
      if (!finished) last.set(id, to);
      onTransition(
        { machine, from, to, event: ev.event.type, ...retryFields(snapshot.context ?? {}) },
        { machine, actor: id },
      );
    }
    if (finished && (known || from !== to)) onEnd?.({ machine, actor: id });
  };
}

/**
 * The steady loops of each machine, by machine id, each a set of dotted `region.state` names: a
 * transition that only moves regions within a loop (a lease renewal every 2 s, the heartbeat's
 * collection every 20 s) is routine, logged by the health of its machine (`routineLevel`), so the info
 * log shows what an operator acts on. A move from one loop to another (a leader losing its term and
 * following) is not routine.
 */
export type RoutineStates = ReadonlyMap<string, readonly (readonly string[])[]>;

/** xstate's event for an invoked actor that failed: `xstate.error.actor.<id>`. */
const isErrorEvent = (type: string): boolean => type.startsWith('xstate.error.');

/**
 * Whether every region that changed moved between two routine states of that machine: the steady loop
 * (a renewal, a collection, a report) or its retries. Whether it failed is `isFailing`'s question.
 */
export function isRoutine(record: TransitionRecord, routine: RoutineStates): boolean {
  const loops = routine.get(record.machine);
  if (loops === undefined || record.from === '') return false;
  const from = record.from.split(',');
  const to = record.to.split(',');
  if (from.length !== to.length) return false;
  let changed = false;
  for (let i = 0; i < from.length; i++) {
    const a = from[i] ?? '';
    const b = to[i] ?? '';
    if (a === b) continue;
    if (!loops.some((loop) => loop.includes(a) && loop.includes(b))) return false;
    changed = true;
  }
  return changed;
}

/** Whether the machine is failing at this transition: an invoked actor failed, or it is retrying. */
export const isFailing = (record: TransitionRecord): boolean => isErrorEvent(record.event) || (record.attempt ?? 0) > 0;

/** A failure message with its numbers left out (ports, addresses, counts), as the kind it is of. */
export const failureKindOf = (record: TransitionRecord): string =>
  (record.lastFailure ?? record.event).replace(/\d+/g, 'N').slice(0, 120);

export type LogLevel = 'debug' | 'info' | 'warn';

/**
 * The level of a routine transition, by the health of its machine (Kubernetes components' rule: quiet
 * while healthy, one line per change of health). `failing` holds the kinds of failure already said per
 * machine in its current streak of failures:
 * - healthy and staying so: debug (a renewal every 2 s, a collection every 20 s);
 * - the first failure of a kind in a streak: warn, with the reason;
 * - the same kind again: debug;
 * - the first healthy step after a streak: info (recovered), and the streak ends.
 * A machine in `selfReporting` says its failures and recoveries itself: all its routine steps are debug.
 */
export function routineLevel(
  record: TransitionRecord,
  failing: Map<string, Set<string>>,
  selfReporting: ReadonlySet<string> = new Set(),
): LogLevel {
  if (selfReporting.has(record.machine)) return 'debug';
  const streak = failing.get(record.machine);
  if (!isFailing(record)) {
    if (streak === undefined) return 'debug';
    failing.delete(record.machine);
    return 'info';
  }
  const kind = failureKindOf(record);
  if (streak?.has(kind) === true) return 'debug';
  failing.set(record.machine, new Set([...(streak ?? []), kind]));
  return 'warn';
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

export interface TransitionLogOptions {
  readonly onTransition?: (t: TransitionRecord) => void;
  /** Each machine's steady loops (`isRoutine`). */
  readonly routine?: RoutineStates;
  /** Machines that say their failures and recoveries themselves (`routineLevel`). */
  readonly selfReporting?: ReadonlySet<string>;
  /** Machines whose every transition is debug: one chart per piece of work, whose outcome its owner logs (a helm run). */
  readonly quiet?: ReadonlySet<string>;
}

/**
 * The transition log: one pino line per state change. Routine ones at the level their machine's health
 * gives them (`routineLevel`), repeats of a logged loop and the quiet machines at debug, the rest at info.
 */
export function transitionLogger(log: Logger, opts: TransitionLogOptions = {}): (ev: InspectionEvent) => void {
  const { onTransition, routine = new Map(), selfReporting = new Set(), quiet = new Set() } = opts;
  const streaks = new Map<string, Set<string>>();
  const failing = new Map<string, Set<string>>();
  return transitionRecorder((record) => {
    const message = `${record.machine}: ${record.from === '' ? '(start)' : record.from} → ${record.to}`;
    const repeat = isRepeat(record, streaks);
    const level: LogLevel =
      repeat || quiet.has(record.machine)
        ? 'debug'
        : isRoutine(record, routine)
          ? routineLevel(record, failing, selfReporting)
          : 'info';
    if (level === 'info' && failing.has(record.machine) && !isFailing(record)) failing.delete(record.machine);
    const recovered = level === 'info' && isRoutine(record, routine);
    log[level]({ transition: record }, recovered ? `${message} (recovered)` : message);
    onTransition?.(record);
  });
}
