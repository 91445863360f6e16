// The agent's one outward stream: an rxjs Observable of what happens, built from the actor system's
// inspection events. It carries
//   inspection  every inspection event, as xstate gives it (for the Stately inspector and the log);
//   transition  each change of state of every machine actor (src/logging/transitions.ts's records);
//   ended       a machine actor finished or was stopped;
//   report      each child → root report of the catalogue (machines/events.ts) the root receives;
//   root        the root's tags when they change (`leading`, `registered`: machines/agent/machine.ts).
// The transition log, the Prometheus metrics, readiness and the statechart inspector all subscribe to
// it; none of them reads a state name (the metrics use names only as labels of the state gauge).

import { defer, distinctUntilChanged, filter, map, mergeMap, scan, share, startWith, type Observable } from 'rxjs';
import type { ActorRefLike, AnyActorRef, InspectionEvent } from 'xstate';
import { agentMachine, type AgentTag } from '../../machines/agent/machine.ts';
import { childReportTypes, type ChildReport } from '../../machines/events.ts';
import type { RegistrationProblem } from '../../machines/registration/problems.ts';
import { transitionRecorder, type ActorOf, type TransitionRecord } from '../logging/transitions.ts';
import { redactUrls } from '../logging/redact-url.ts';
import type { Readiness } from './server.ts';

/** The root's tags, as booleans. */
export type RootTags = Readonly<Record<AgentTag, boolean>>;

export type AgentHappening =
  | { readonly kind: 'inspection'; readonly inspection: InspectionEvent }
  | { readonly kind: 'transition'; readonly transition: TransitionRecord; readonly of: ActorOf }
  /** A machine actor finished (done, failed, or stopped with the state that ran it). */
  | { readonly kind: 'ended'; readonly of: ActorOf }
  | { readonly kind: 'report'; readonly report: ChildReport }
  | { readonly kind: 'root'; readonly tags: RootTags };

const reportTypes: ReadonlySet<string> = new Set(childReportTypes);

/** Whether an event is one of the catalogue's child → root reports. */
export const isChildReport = (event: { readonly type: string }): event is ChildReport => reportTypes.has(event.type);

/** The machine id of an inspected actor (undefined for promise and callback actors). */
export const machineIdOf = (ref: ActorRefLike): string | undefined => (ref as { logic?: { id?: string } }).logic?.id;

const isRoot = (ref: ActorRefLike): boolean =>
  machineIdOf(ref) === agentMachine.id && (ref as Partial<AnyActorRef>)._parent === undefined;

const tagsOf = (snapshot: unknown): RootTags => {
  const s = snapshot as { hasTag?: (tag: string) => boolean };
  return { leading: s.hasTag?.('leading') ?? false, registered: s.hasTag?.('registered') ?? false };
};

/**
 * The outward stream of an actor system, from its inspection events (subscribe before the actor
 * starts: it is shared, and a late subscriber misses what came before).
 */
export function agentHappenings(inspection$: Observable<InspectionEvent>): Observable<AgentHappening> {
  return defer(() => {
    let records: AgentHappening[] = [];
    const record = transitionRecorder(
      (transition, of) => records.push({ kind: 'transition', transition, of }),
      (of) => records.push({ kind: 'ended', of }),
    );
    let tags: RootTags | undefined;
    return inspection$.pipe(
      mergeMap((ev) => {
        const out: AgentHappening[] = [{ kind: 'inspection', inspection: ev }];
        record(ev);
        out.push(...records);
        records = [];
        // A report the root received from one of its children.
        if (ev.type === '@xstate.event' && ev.sourceRef !== undefined && isRoot(ev.actorRef) && isChildReport(ev.event))
          out.push({ kind: 'report', report: ev.event });
        if (ev.type === '@xstate.snapshot' && isRoot(ev.actorRef)) {
          const now = tagsOf(ev.snapshot);
          if (now.leading !== tags?.leading || now.registered !== tags.registered)
            out.push({ kind: 'root', tags: now });
          tags = now;
        }
        return out;
      }),
    );
  }).pipe(share());
}

/** The reports of the stream. */
export const reports = (h$: Observable<AgentHappening>): Observable<ChildReport> =>
  h$.pipe(
    filter((h) => h.kind === 'report'),
    map((h) => h.report),
  );

/** The inspection events of the stream. */
export const inspections = (h$: Observable<AgentHappening>): Observable<InspectionEvent> =>
  h$.pipe(
    filter((h) => h.kind === 'inspection'),
    map((h) => h.inspection),
  );

/** Why registration is not getting on: /readyz says the message, the metric the reason. */
export interface RegistrationHeldUp {
  readonly reason: RegistrationProblem;
  readonly message: string;
}

/** What readiness follows, folded from the stream. */
export interface AgentCondition {
  readonly tags: RootTags;
  /** What holds registration up in this term (reset when it ends). */
  readonly heldUp: RegistrationHeldUp | undefined;
  readonly tunnelUp: boolean;
  /** Why the tunnel is down: `kind: reason`, until it works again. */
  readonly tunnelFailure: string | undefined;
}

export const initialCondition: AgentCondition = {
  tags: { leading: false, registered: false },
  heldUp: undefined,
  tunnelUp: false,
  tunnelFailure: undefined,
};

function afterReport(c: AgentCondition, r: ChildReport): AgentCondition {
  switch (r.type) {
    case 'registration.problem':
      return {
        ...c,
        heldUp:
          r.problem === undefined || r.message === undefined
            ? undefined
            : { reason: r.problem, message: redactUrls(r.message) },
      };
    case 'registration.registered':
      return { ...c, heldUp: undefined };
    case 'tunnel.connected':
      return { ...c, tunnelUp: true };
    case 'tunnel.disconnected':
      return { ...c, tunnelUp: false, tunnelFailure: `${r.kind}: ${r.message}` };
    case 'tunnel.recovered':
      return { ...c, tunnelFailure: undefined };
    default:
      return c;
  }
}

/** One step of the fold: the root's tags and the children's reports (pure). */
export function nextCondition(c: AgentCondition, h: AgentHappening): AgentCondition {
  if (h.kind === 'report') return afterReport(c, h.report);
  if (h.kind !== 'root') return c;
  const next = { ...c, tags: h.tags };
  // Registration runs while leading: once the term ends, nothing holds it up.
  const term = h.tags.leading ? next : { ...next, heldUp: undefined };
  // The tunnel stops with `serving` without a report of its own: it is down from then on.
  return h.tags.registered ? term : { ...term, tunnelUp: false, tunnelFailure: undefined };
}

/** The condition as it changes. */
export const conditions = (h$: Observable<AgentHappening>): Observable<AgentCondition> =>
  h$.pipe(
    filter((h) => h.kind === 'report' || h.kind === 'root'),
    scan(nextCondition, initialCondition),
    startWith(initialCondition),
  );

/** Readiness: registered and, when the tunnel is enabled, connected (pure). */
export function readinessOf(c: AgentCondition, tunnelEnabled: boolean): Readiness {
  const reasons = [
    ...(c.tags.registered
      ? []
      : [
          c.heldUp === undefined
            ? 'not registered (standing by, or registering)'
            : `not registered: ${c.heldUp.message}`,
        ]),
    ...(tunnelEnabled && !c.tunnelUp
      ? [c.tunnelFailure === undefined ? 'tunnel not connected' : `tunnel not connected (${c.tunnelFailure})`]
      : []),
  ];
  return { ready: reasons.length === 0, reasons };
}

/** Readiness as it changes. */
export const readiness = (h$: Observable<AgentHappening>, tunnelEnabled: boolean): Observable<Readiness> =>
  conditions(h$).pipe(
    map((c) => readinessOf(c, tunnelEnabled)),
    distinctUntilChanged((a, b) => a.ready === b.ready && a.reasons.join() === b.reasons.join()),
  );

/** What holds registration up, once each time the reason changes (the warn line and the metric). */
export const heldUp = (h$: Observable<AgentHappening>): Observable<RegistrationHeldUp | undefined> =>
  conditions(h$).pipe(
    map((c) => c.heldUp),
    distinctUntilChanged((a, b) => a?.reason === b?.reason),
  );
