// The heartbeat lifecycle (spec §4): collect the child's status on one clock, report it to the parent's
// ManagedCluster on another. Three parallel regions:
//   nodes       keeps the child's node summary current (watch; resumes after a normal end, backs off
//               after a failure);
//   collection  collects once the nodes are known — never before, as the Go agent waits for its
//               informers: a status without node figures would tell the scheduler the cluster has no
//               capacity (a warning after nodeSyncTimeout says why nothing is reported yet) — then
//               every collectInterval, and soon after a node changed readiness (changeDebounce). A
//               relist keeps the last full node figures until the new list is complete;
//   reporting   reports the first collection at once, then every reportInterval after the previous
//               report, and early when a collection differs significantly from what was last reported
//               — but never within reportSpacing of the previous report, so a flapping probe cannot
//               flood the parent. One request at a time: a report always carries the latest status.
//
// Pure: effects are provided from src/ (or by tests) with `.provide()`.

import { assign, enqueueActions, fromEventObservable, fromPromise, sendTo, setup } from 'xstate';
import { reportTo, type ChildReport } from '../events.ts';
import { asFailure, failureParams, notProvided as notProvidedBy, type Failure } from '../failure.ts';
import { significantChange, type ClusterStatus } from './decisions.ts';
import { resumesAtOnce, type WatchEndKind } from '../watch.ts';

export interface HeartbeatInput {
  readonly clusterId: string;
  readonly dedicatedNamespace: string;
}

export interface HeartbeatContext {
  readonly clusterId: string;
  readonly dedicatedNamespace: string;
  readonly nodesSynced: boolean;
  /** The latest collected status, waiting to be reported. */
  readonly latest: ClusterStatus | undefined;
  /** The status of the report in flight. */
  readonly sending: ClusterStatus | undefined;
  /** The status the parent last accepted. */
  readonly reported: ClusterStatus | undefined;
  /** A significant change arrived while a report could not be sent yet. */
  readonly changePending: boolean;
  /** Consecutive failed report attempts; drives the backoff. */
  readonly attempt: number;
  /** Consecutive failed node watches; drives their backoff. */
  readonly watchAttempt: number;
  readonly lastFailure: string | undefined;
  readonly collections: number;
  readonly reports: number;
}

export type HeartbeatEvent =
  /** The node summary is complete (after a full list). */
  | { readonly type: 'nodes.synced' }
  /** A node appeared, went away, or changed readiness. */
  | { readonly type: 'nodes.changed' }
  /** The node watch ended (machines/watch.ts): `ended` and `expired` resume at once, `failed` backs off. */
  | { readonly type: 'nodes.watchEnded'; readonly kind: WatchEndKind; readonly message: string }
  /** Internal: a collection differs significantly from what the parent last accepted. */
  | { readonly type: 'status.changed'; readonly reason: string };

export interface ReportInput {
  readonly clusterId: string;
  readonly dedicatedNamespace: string;
  /** Undefined only if nothing was collected yet (the machine does not report before that). */
  readonly status: ClusterStatus | undefined;
}

/** What a report attempt that succeeded tells the chart: how long it took (for the root's metrics). */
export interface ReportOutput {
  readonly seconds: number;
}

const notProvided = notProvidedBy('heartbeat');

/** Counts a failed step and keeps its message (`params`: the actor's error, see failureParams). */
const recordFailure = { type: 'recordFailure', params: failureParams } as const;
/** A failed report: counted, and told to the root with its kind. */
const reportedFailure = [recordFailure, { type: 'reportFailed', params: failureParams }] as const;

/** The collection loop's states: moving among them is routine (logged at debug). */
export const routineCollectionStates: readonly string[] = [
  'collection.idle',
  'collection.collecting',
  'collection.soon',
];

/**
 * The states of the heartbeat's steady loops (the node watch, collections, reports, and their retries):
 * moving among them is logged at debug while healthy, a first failure at warn, the recovery at info.
 */
export const routineHeartbeatStates: readonly string[] = [
  ...routineCollectionStates,
  'nodes.watching',
  'nodes.backingOff',
  'reporting.sending',
  'reporting.settling',
  'reporting.waiting',
  'reporting.backingOff',
  'reporting.refreshing',
];

export const heartbeatMachine = setup({
  types: {
    context: {} as HeartbeatContext,
    events: {} as HeartbeatEvent,
    input: {} as HeartbeatInput,
  },
  actors: {
    /** Lists (when needed) and watches the child's nodes; sends nodes.synced / changed / watchEnded. */
    watchNodes: fromEventObservable<HeartbeatEvent, undefined>(notProvided('watchNodes')),
    /** One collection of the child's status. */
    collect: fromPromise<ClusterStatus>(notProvided('collect')),
    /** One attempt to write the status (and aggregated labels) to the ManagedCluster. */
    report: fromPromise<ReportOutput, ReportInput>(notProvided('report')),
    /** Re-reads the ManagedCluster after a conflict. */
    refresh: fromPromise<undefined, HeartbeatInput>(notProvided('refresh')),
  },
  delays: {
    collectInterval: notProvided('collectInterval'),
    /** Minimum time between two reports (spent in `settling` after each report). */
    reportSpacing: notProvided('reportSpacing'),
    /** Time in `waiting` after `settling`: reportSpacing + reportInterval is the report period. */
    reportInterval: notProvided('reportInterval'),
    /** How long to wait after a node change before collecting. */
    changeDebounce: notProvided('changeDebounce'),
    /** How long the first collection waits for the node summary before a warning says it still waits. */
    nodeSyncTimeout: notProvided('nodeSyncTimeout'),
    /** Backoff before the next report attempt (context.attempt). */
    retryDelay: notProvided('retryDelay'),
    /** Backoff before the next node watch (context.watchAttempt). */
    watchRetryDelay: notProvided('watchRetryDelay'),
  },
  guards: {
    changePending: ({ context }) => context.changePending,
    conflict: (_, { failure }: { failure: Failure }) => failure.kind === 'conflict',
    credentialsRejected: (_, { failure }: { failure: Failure }) => ['unauthorized', 'forbidden'].includes(failure.kind),
    /** An idle or expired watch resumes at once; only a failed one backs off (machines/watch.ts). */
    watchResumesAtOnce: ({ event }) => event.type === 'nodes.watchEnded' && resumesAtOnce(event.kind),
  },
  actions: {
    /** Tells the root the parent refused the dedicated credentials: registration re-checks them. */
    notifyCredentialsRejected: sendTo(reportTo, ({ context }): ChildReport => ({
      type: 'credentials.rejected',
      component: 'heartbeat',
      message: context.lastFailure ?? 'the parent refused the dedicated credentials',
    })),
    /** Tells the root a report failed, and how (the failure kind). */
    reportFailed: sendTo(reportTo, (_, { failure }: { failure: Failure }): ChildReport => ({
      type: 'heartbeat.failed',
      reason: failure.kind,
    })),
    /** Says (a warning) that the first node list is still missing, so nothing is reported yet. */
    warnNodesNotSynced: notProvided('warnNodesNotSynced'),
    recordFailure: assign(({ context }, { failure }: { failure: Failure }) => ({
      attempt: context.attempt + 1,
      lastFailure: failure.message,
    })),
  },
}).createMachine({
  id: 'heartbeat',
  type: 'parallel',
  context: ({ input }) => ({
    clusterId: input.clusterId,
    dedicatedNamespace: input.dedicatedNamespace,
    nodesSynced: false,
    latest: undefined,
    sending: undefined,
    reported: undefined,
    changePending: false,
    attempt: 0,
    watchAttempt: 0,
    lastFailure: undefined,
    collections: 0,
    reports: 0,
  }),
  states: {
    nodes: {
      initial: 'watching',
      states: {
        watching: {
          invoke: { id: 'watchNodes', src: 'watchNodes', onError: { target: 'backingOff' } },
          on: {
            'nodes.synced': { actions: assign({ nodesSynced: true, watchAttempt: 0 }) },
            'nodes.watchEnded': [
              { guard: 'watchResumesAtOnce', target: 'watching', reenter: true },
              {
                target: 'backingOff',
                actions: assign({
                  watchAttempt: ({ context }) => context.watchAttempt + 1,
                  lastFailure: ({ event }) => event.message,
                }),
              },
            ],
          },
        },
        backingOff: { after: { watchRetryDelay: 'watching' } },
      },
    },
    collection: {
      initial: 'waitingForNodes',
      states: {
        waitingForNodes: {
          on: { 'nodes.synced': 'collecting' },
          after: { nodeSyncTimeout: { actions: 'warnNodesNotSynced' } },
        },
        collecting: {
          invoke: {
            id: 'collect',
            src: 'collect',
            onDone: {
              target: 'idle',
              actions: [
                assign({
                  latest: ({ event }) => event.output,
                  collections: ({ context }) => context.collections + 1,
                }),
                enqueueActions(({ context, event, enqueue }) => {
                  const reason = significantChange(context.reported, event.output);
                  if (reason !== undefined) enqueue.raise({ type: 'status.changed', reason });
                }),
              ],
            },
            onError: {
              target: 'idle',
              actions: assign({ lastFailure: ({ event }) => asFailure(event.error).message }),
            },
          },
        },
        idle: {
          after: { collectInterval: 'collecting' },
          on: { 'nodes.changed': 'soon' },
        },
        soon: { after: { changeDebounce: 'collecting' } },
      },
    },
    reporting: {
      initial: 'waitingForStatus',
      states: {
        waitingForStatus: {
          on: { 'status.changed': 'sending' },
        },
        sending: {
          entry: assign({ sending: ({ context }) => context.latest, changePending: false }),
          invoke: {
            id: 'report',
            src: 'report',
            input: ({ context }) => ({
              clusterId: context.clusterId,
              dedicatedNamespace: context.dedicatedNamespace,
              status: context.sending,
            }),
            onDone: {
              target: 'settling',
              actions: [
                assign({
                  reported: ({ context }) => context.sending,
                  attempt: 0,
                  lastFailure: undefined,
                  reports: ({ context }) => context.reports + 1,
                }),
                // Tells the root a report went through, and how long it took.
                sendTo(reportTo, ({ event }): ChildReport => ({
                  type: 'heartbeat.reported',
                  seconds: event.output.seconds,
                })),
              ],
            },
            onError: [
              { guard: { type: 'conflict', params: failureParams }, target: 'refreshing', actions: reportedFailure },
              {
                guard: { type: 'credentialsRejected', params: failureParams },
                target: 'backingOff',
                actions: [...reportedFailure, 'notifyCredentialsRejected'],
              },
              { target: 'backingOff', actions: reportedFailure },
            ],
          },
          on: {
            'status.changed': { actions: assign({ changePending: true }) },
          },
        },
        refreshing: {
          invoke: {
            id: 'refresh',
            src: 'refresh',
            input: ({ context }) => ({ clusterId: context.clusterId, dedicatedNamespace: context.dedicatedNamespace }),
            onDone: { target: 'backingOff' },
            onError: { target: 'backingOff', actions: recordFailure },
          },
        },
        backingOff: { after: { retryDelay: 'sending' } },
        settling: {
          after: { reportSpacing: 'waiting' },
          on: {
            'status.changed': { actions: assign({ changePending: true }) },
          },
        },
        waiting: {
          always: { guard: 'changePending', target: 'sending' },
          after: { reportInterval: 'sending' },
          on: { 'status.changed': 'sending' },
        },
      },
    },
  },
});
