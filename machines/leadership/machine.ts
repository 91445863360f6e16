// Leader election (spec §6) over a coordination.k8s.io/v1 Lease, with client-go's semantics and two
// additions: a leader that cannot renew stops working at its renew deadline, which always falls before
// any standby may take the Lease; and on stop the leader releases the Lease (empty holder, 1 s), so a
// standby takes over within a retry period.
//
// Reports to its parent: `lease.acquired` on becoming leader, `lease.lost` when it must stop working.
// Pure: reading and writing the Lease are actors provided from src/.

import { assign, fromEventObservable, fromPromise, sendParent, setup, type NonReducibleUnknown } from 'xstate';
import { failureParams, notProvided as notProvidedBy, type Failure } from '../failure.ts';
import { newLeaseAnnotations } from '../registration/decisions.ts';
import {
  decideLease,
  observeLease,
  termOver,
  workDeadline,
  type ElectionTiming,
  type LeaseDecision,
  type LeaseRecord,
  type Observation,
} from './decisions.ts';
import { leadershipDelays } from './timing.ts';

export interface LeadershipInput {
  /** `spec.holderIdentity` of this replica: `<hostname>_<uuid>`. */
  readonly identity: string;
  /** `--leader-elect`: when false, this replica works at once, without a Lease. */
  readonly enabled: boolean;
  /** Built from the configured numbers with electionTiming (timing.ts). */
  readonly timing: ElectionTiming;
}

/** One read of the Lease: its record (undefined when it does not exist), version, and our clocks. */
export interface LeaseRead {
  readonly record: LeaseRecord | undefined;
  readonly resourceVersion: string | undefined;
  /** Steady time (never steps back) when the read was answered: expiry is measured with it. */
  readonly at: number;
  /** Wall time at the same moment: what a write after this read gives as acquireTime/renewTime. */
  readonly wallAt: number;
}

export interface WriteInput {
  readonly action: 'create' | 'update';
  /**
   * Metadata annotations of a Lease this write creates: the known cluster ID as legacy-cluster-id, so
   * a Lease deleted while leading is recreated under the same identity (see newLeaseAnnotations).
   */
  readonly annotations: Readonly<Record<string, string>>;
  readonly record: LeaseRecord;
  /** Optimistic concurrency: the update fails with a conflict if the Lease changed since. */
  readonly resourceVersion: string | undefined;
}

/** A successful write: when it was sent and answered (our steady clock), and the new version. */
export interface WriteResult {
  readonly sentAt: number;
  readonly at: number;
  readonly resourceVersion: string | undefined;
}

export interface LeadershipContext {
  readonly identity: string;
  readonly enabled: boolean;
  readonly timing: ElectionTiming;
  readonly observation: Observation | undefined;
  readonly resourceVersion: string | undefined;
  /** The decision taken on the last read; what a write writes. */
  readonly pending: LeaseDecision | undefined;
  /** The holder seen on the last read. */
  readonly holder: string | undefined;
  /** When (our clock) the last read was answered. */
  readonly readAt: number;
  /** How long work may go on after the last successful write (see workDeadline). */
  readonly deadlineMs: number;
  /** The same deadline as a steady time: the term is over from then on (see termOver). */
  readonly leaderUntil: number;
  readonly attempt: number;
  readonly lastFailure: string | undefined;
  /** The cluster ID, once registration knows it (identity.known): a Lease we create carries it. */
  readonly clusterId: string | undefined;
}

export type LeadershipEvent =
  | { readonly type: 'lease.release' }
  /** The Lease changed (seen by the watch while following): read it now rather than at the next period. */
  | { readonly type: 'lease.changed' }
  /** Sent before leader-only work runs: if the term is over, stop leading now (see termOver). */
  | { readonly type: 'lease.check' }
  /** The cluster ID registration settled on (spec §2): kept if the Lease has to be created again. */
  | { readonly type: 'identity.known'; readonly clusterId: string };

/** What the parent hears. */
export type LeadershipReport = { readonly type: 'lease.acquired' } | { readonly type: 'lease.lost' };

const notProvided = notProvidedBy('leadership');

/** The parameters of the guards and actions about a read of the Lease. */
const readParams = ({ event }: { event: { readonly output: LeaseRead } }) => ({ read: event.output });
/** The parameters of the action about a write of the Lease. */
const writeParams = ({ event }: { event: { readonly output: WriteResult } }) => ({ write: event.output });

const mayTakeLease = { type: 'mayTakeLease', params: readParams } as const;
const observe = { type: 'observe', params: readParams } as const;
const noteWrite = { type: 'noteWrite', params: writeParams } as const;
const recordFailure = { type: 'recordFailure', params: failureParams } as const;

/** The decision a read leads to, counting the read as an observation. */
export function decisionAfterRead(context: LeadershipContext, read: LeaseRead): LeaseDecision {
  const observation = read.record === undefined ? undefined : observeLease(context.observation, read.record, read.at);
  return decideLease(read.record, context.identity, read.at, context.timing, observation, read.wallAt);
}

/**
 * The guards that read the steady clock, for `provide`: src passes steadyNow, tests their simulated
 * clock. The decision is termOver's; only the reading of the clock comes from outside.
 */
export function termGuards(now: () => number) {
  return {
    termOver: ({ context }: { context: LeadershipContext }) => termOver(context.leaderUntil, now()),
  };
}

/**
 * The election's steady loops (a move from one to the other is not routine): a leader renewing every retry period, a follower reading the Lease.
 * Logged at debug while healthy (a renewal every 2 s), a first failure at warn, the recovery at info.
 */
export const routineLeadershipStates: readonly (readonly string[])[] = [
  ['following.reading', 'following.waiting'],
  ['leading.term.holding', 'leading.term.renewing', 'leading.term.writing'],
];

export const leadershipMachine = setup({
  types: {
    context: {} as LeadershipContext,
    events: {} as LeadershipEvent,
    input: {} as LeadershipInput,
  },
  actors: {
    /** GET of the Lease; resolves with record undefined when it does not exist. */
    readLease: fromPromise<LeaseRead>(notProvided('readLease')),
    /** Creates or updates (with the resource version read) the Lease. Rejects on conflict. */
    writeLease: fromPromise<WriteResult, WriteInput>(notProvided('writeLease')),
    /**
     * The Lease's changes while following, as a stream of `lease.changed`, so a released Lease is taken
     * at once. Best effort: when the stream ends, the periodic reads go on alone.
     */
    watchLease: fromEventObservable<LeadershipEvent, NonReducibleUnknown>(notProvided('watchLease')),
    /** Steps down: if this replica still holds the Lease, rewrites it with no holder and a 1 s duration. */
    releaseLease: fromPromise<undefined, { readonly identity: string }>(notProvided('releaseLease')),
  },
  delays: leadershipDelays,
  guards: {
    electionDisabled: ({ context }) => !context.enabled,
    mayTakeLease: ({ context }, { read }: { read: LeaseRead }) => decisionAfterRead(context, read).action !== 'wait',
    /** Whether the work deadline has passed (see termGuards); must be provided. */
    termOver: notProvided('termOver guard (see termGuards)'),
  },
  actions: {
    reportLeading: sendParent({ type: 'lease.acquired' }),
    reportLost: sendParent({ type: 'lease.lost' }),
    observe: assign(({ context }, { read }: { read: LeaseRead }) => {
      return {
        observation:
          read.record === undefined ? context.observation : observeLease(context.observation, read.record, read.at),
        resourceVersion: read.resourceVersion,
        pending: decisionAfterRead(context, read),
        holder: read.record?.holderIdentity,
        readAt: read.at,
      };
    }),
    noteWrite: assign(({ context }, { write: out }: { write: WriteResult }) => {
      const written = context.pending?.action === 'wait' ? undefined : context.pending?.record;
      return {
        resourceVersion: out.resourceVersion,
        observation: written === undefined ? context.observation : { record: written, at: out.at },
        holder: context.identity,
        deadlineMs: workDeadline(out.sentAt, out.at, context.timing),
        leaderUntil: out.at + workDeadline(out.sentAt, out.at, context.timing),
        attempt: 0,
        lastFailure: undefined,
      };
    }),
    // After a failure the next wait is a full retry period (pending cleared): failing reads never spin.
    recordFailure: assign(({ context }, { failure }: { failure: Failure }) => ({
      attempt: context.attempt + 1,
      lastFailure: failure.message,
      pending: undefined,
    })),
    recordTimeout: assign({
      attempt: ({ context }) => context.attempt + 1,
      lastFailure: 'request to the apiserver timed out',
      pending: undefined,
    }),
  },
}).createMachine({
  id: 'leadership',
  context: ({ input }) => ({
    identity: input.identity,
    enabled: input.enabled,
    timing: input.timing,
    observation: undefined,
    resourceVersion: undefined,
    pending: undefined,
    holder: undefined,
    readAt: 0,
    deadlineMs: 0,
    leaderUntil: 0,
    attempt: 0,
    lastFailure: undefined,
    clusterId: undefined,
  }),
  initial: 'starting',
  on: {
    'lease.release': '.released',
    'identity.known': { actions: assign({ clusterId: ({ event }) => event.clusterId }) },
  },
  states: {
    starting: {
      always: [{ guard: 'electionDisabled', target: 'unelected' }, { target: 'following' }],
    },

    /** Not leading: read the Lease every retry period and take it when it is free or expired. */
    following: {
      // A watch that fails leaves the periodic reads to do the work.
      invoke: { id: 'watchLease', src: 'watchLease', onError: { actions: recordFailure } },
      initial: 'reading',
      states: {
        reading: {
          invoke: {
            id: 'readLease',
            src: 'readLease',
            onDone: [
              { guard: mayTakeLease, target: 'acquiring', actions: observe },
              { target: 'waiting', actions: observe },
            ],
            onError: { target: 'waiting', actions: recordFailure },
          },
          after: { requestTimeout: { target: 'waiting', actions: 'recordTimeout' } },
          // A change while a read is in flight (the release right after a renewal): the answer may
          // predate it, so read again rather than wait a period.
          on: { 'lease.changed': { target: 'reading', reenter: true } },
        },
        acquiring: {
          invoke: {
            id: 'writeLease',
            src: 'writeLease',
            input: ({ context }) => writeInput(context),
            onDone: { target: '#leadership.leading', actions: noteWrite },
            // A conflict: someone else wrote first. Read again after the retry period.
            onError: { target: 'waiting', actions: recordFailure },
          },
          after: { requestTimeout: { target: 'waiting', actions: 'recordTimeout' } },
          // The write may land even if we stop waiting for it: release (which checks the holder).
          on: { 'lease.release': '#leadership.releasing' },
        },
        waiting: {
          after: { nextRead: 'reading' },
          on: { 'lease.changed': 'reading' },
        },
      },
    },

    leading: {
      entry: 'reportLeading',
      on: {
        'lease.release': '#leadership.releasing',
        // Leader-only work is about to run: it must not if the deadline has passed, whatever timer
        // (the deadline's own included) has not fired yet.
        'lease.check': { guard: 'termOver', target: '#leadership.lost' },
      },
      initial: 'term',
      states: {
        /** Re-entered at each successful renewal, which restarts the work deadline. */
        term: {
          after: { workDeadline: '#leadership.lost' },
          initial: 'holding',
          states: {
            // Every renewal first asks the clock: a retry timer that fires late (after a pause) must not
            // renew a term that is over; the deadline timer may not have fired yet.
            holding: {
              after: { retryPeriod: [{ guard: 'termOver', target: '#leadership.lost' }, { target: 'renewing' }] },
            },
            renewing: {
              invoke: {
                id: 'readLease',
                src: 'readLease',
                onDone: [
                  { guard: 'termOver', target: '#leadership.lost', actions: observe },
                  { guard: mayTakeLease, target: 'writing', actions: observe },
                  // Someone else holds it now (deleted and taken, or overwritten): stop at once.
                  { target: '#leadership.lost', actions: observe },
                ],
                onError: { target: 'holding', actions: recordFailure },
              },
              after: { requestTimeout: { target: 'holding', actions: 'recordTimeout' } },
            },
            writing: {
              invoke: {
                id: 'writeLease',
                src: 'writeLease',
                input: ({ context }) => writeInput(context),
                onDone: { target: '#leadership.leading.term', reenter: true, actions: noteWrite },
                onError: { target: 'holding', actions: recordFailure },
              },
              after: { requestTimeout: { target: 'holding', actions: 'recordTimeout' } },
            },
          },
        },
      },
    },

    /** Work must stop now: tell the parent, then campaign again. */
    lost: {
      entry: 'reportLost',
      always: 'following',
    },

    /** `--leader-elect=false`: work at once, no Lease (the cluster ID then needs an existing Lease). */
    unelected: { entry: 'reportLeading' },

    releasing: {
      invoke: {
        id: 'releaseLease',
        src: 'releaseLease',
        input: ({ context }) => ({ identity: context.identity }),
        onDone: 'released',
        onError: { target: 'released', actions: recordFailure },
      },
      after: { requestTimeout: { target: 'released', actions: 'recordTimeout' } },
      on: { 'lease.release': {} },
    },
    released: { type: 'final' },
  },
});

function writeInput(context: LeadershipContext): WriteInput {
  const d = context.pending;
  if (d === undefined || d.action === 'wait') throw new Error('leadership: nothing to write');
  return {
    action: d.action,
    annotations: d.action === 'create' ? newLeaseAnnotations(context.clusterId) : {},
    record: d.record,
    resourceVersion: context.resourceVersion,
  };
}
