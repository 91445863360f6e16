// The multi-cluster service syncer (spec §7.7, gate MultiClusterService), leader-only: invoked by the
// root machine in `serving`, stopped with it.
//
//   starting ─▶ disabled                     the gate is off
//       └────▶ checkingChild ─▶ unsupported  the child is older than v1.21.0-beta.1 (or says no version)
//                  │ ▲ failure: waitingForChild (backoff)
//                  ▼
//               syncing, three parallel regions:
//                 exports  lists and watches the child's ServiceExports; each change queues its key;
//                 slices   lists and watches the child's EndpointSlices; a change of a slice of an
//                          exported Service queues that ServiceExport;
//                          (both: an idle or expired watch resumes at once, a failed one backs off)
//                 work     a deduplicated per-key queue with `workers` reconciles at once; nothing is
//                          reconciled before both caches are complete (a slice not yet listed must not
//                          make its parent copy look stale); a failed reconcile (the parent down, a
//                          conflict) is queued again after a per-key backoff, so an outage loses nothing.
//
// Pure: effects are provided from src/ (or by tests) with `.provide()`.

import { assertEvent, assign, enqueueActions, fromCallback, fromEventObservable, fromPromise, setup } from 'xstate';
import { errorParams, resumesAtOnce, watchRegion, type WatchEndKind, type WatchFailureParams } from '../watch.ts';
import { notProvided as notProvidedBy, type FailureKind } from '../failure.ts';
import { reportTo, type ChildReport } from '../events.ts';
import {
  childSupport,
  emptyQueue,
  enqueue,
  settleWork,
  takeUpTo,
  type ChildSupport,
  type WorkQueue,
} from './decisions.ts';
import { defaultWorkers } from './timing.ts';

export interface McsInput {
  /** The MultiClusterService gate. */
  readonly enabled: boolean;
  readonly dedicatedNamespace: string;
  /** Reconciles at once (default 4). */
  readonly workers?: number;
}

export interface McsContext {
  readonly enabled: boolean;
  readonly dedicatedNamespace: string;
  readonly workers: number;
  /** The child's gitVersion, once read. */
  readonly childVersion: string | undefined;
  readonly support: ChildSupport | undefined;
  readonly queue: WorkQueue;
  /** Consecutive failed reconciles per key; drives that key's backoff. */
  readonly failures: Readonly<Record<string, number>>;
  readonly exportsSynced: boolean;
  readonly slicesSynced: boolean;
  /** Consecutive failures of the version check, the ServiceExport watch, the EndpointSlice watch. */
  readonly checkAttempt: number;
  readonly exportsAttempt: number;
  readonly slicesAttempt: number;
  readonly lastFailure: string | undefined;
  readonly reconciled: number;
}

/** How one of its watches ended (machines/watch.ts): `ended` and `expired` resume at once, `failed` backs off. */
export type WatchEnd = WatchEndKind;

export type McsEvent =
  /** A ServiceExport, or a slice of an exported Service, changed (key `<namespace>/<name>`). */
  | { readonly type: 'export.changed'; readonly key: string }
  | { readonly type: 'exports.synced' }
  | { readonly type: 'exports.watchEnded'; readonly kind: WatchEnd; readonly message: string }
  | { readonly type: 'slices.synced' }
  | { readonly type: 'slices.watchEnded'; readonly kind: WatchEnd; readonly message: string }
  /** A reconcile finished its key. */
  | { readonly type: 'work.done'; readonly key: string }
  /** `kind`: how the call that failed failed (a 401 from the parent: the root has the credentials re-checked). */
  | { readonly type: 'work.failed'; readonly key: string; readonly message: string; readonly kind?: FailureKind }
  /** Internal: a failed key's backoff is over. */
  | { readonly type: 'work.retry'; readonly key: string };

export interface WatchInput {
  readonly dedicatedNamespace: string;
}

export interface ReconcileInput {
  /** The ServiceExport `<namespace>/<name>`. */
  readonly key: string;
  readonly dedicatedNamespace: string;
}

const notProvided = notProvidedBy('mcs');

export const mcsWorkerId = (key: string): string => `reconcile:${key}`;

/** The states in which the syncer runs (for tags-free readers: src/ reads `syncing` through this tag). */
export const syncingTag = 'mcs.syncing';

const mcsSetup = setup({
  types: {
    context: {} as McsContext,
    events: {} as McsEvent,
    input: {} as McsInput,
    tags: {} as typeof syncingTag,
  },
  actors: {
    /** GET /version of the child: its gitVersion. */
    readChildVersion: fromPromise<string>(notProvided('readChildVersion')),
    /** Lists and watches the child's ServiceExports; sends export.changed, exports.synced, exports.watchEnded. */
    watchExports: fromEventObservable<McsEvent, WatchInput>(notProvided('watchExports')),
    /** Lists and watches the child's EndpointSlices; sends export.changed, slices.synced, slices.watchEnded. */
    watchSlices: fromEventObservable<McsEvent, WatchInput>(notProvided('watchSlices')),
    /** Reconciles one ServiceExport; sends work.done or work.failed exactly once. */
    reconcile: fromCallback<McsEvent, ReconcileInput>(notProvided('reconcile')),
  },
  delays: {
    /** Backoff before reading the child's version again (context.checkAttempt). */
    checkRetryDelay: notProvided('checkRetryDelay'),
    /** Backoff before the next ServiceExport watch (context.exportsAttempt). */
    exportsRetryDelay: notProvided('exportsRetryDelay'),
    /** Backoff before the next EndpointSlice watch (context.slicesAttempt). */
    slicesRetryDelay: notProvided('slicesRetryDelay'),
    /** Backoff before a failed key is queued again (context.failures[key]). */
    workRetryDelay: notProvided('workRetryDelay'),
  },
  guards: {
    enabled: ({ context }) => context.enabled,
    supported: (_, { version }: { version: string }) => childSupport(version) === 'supported',
    watchExpired: ({ event }) =>
      (event.type === 'exports.watchEnded' || event.type === 'slices.watchEnded') && resumesAtOnce(event.kind),
  },
  actions: {
    noteVersion: assign((_, { version }: { version: string }) => ({
      childVersion: version,
      support: childSupport(version),
      checkAttempt: 0,
      lastFailure: undefined,
    })),
    recordCheckFailure: assign(({ context }, params: WatchFailureParams) => ({
      checkAttempt: context.checkAttempt + 1,
      lastFailure: params.message,
    })),
    recordExportsFailure: assign(({ context }, params: WatchFailureParams) => ({
      exportsAttempt: context.exportsAttempt + 1,
      lastFailure: params.message,
    })),
    recordSlicesFailure: assign(({ context }, params: WatchFailureParams) => ({
      slicesAttempt: context.slicesAttempt + 1,
      lastFailure: params.message,
    })),
    /**
     * Queues the event's key (if any), notes a completed list, and starts workers while there is room —
     * once both caches are complete.
     */
    queueAndDispatch: enqueueActions(({ context, event, enqueue: q }) => {
      const exportsSynced = context.exportsSynced || event.type === 'exports.synced';
      const slicesSynced = context.slicesSynced || event.type === 'slices.synced';
      const queued =
        event.type === 'export.changed' || event.type === 'work.retry'
          ? enqueue(context.queue, event.key)
          : context.queue;
      const { queue, started } =
        exportsSynced && slicesSynced ? takeUpTo(queued, context.workers) : { queue: queued, started: [] };
      q.assign({
        queue,
        exportsSynced,
        slicesSynced,
        ...(event.type === 'exports.synced' ? { exportsAttempt: 0 } : {}),
        ...(event.type === 'slices.synced' ? { slicesAttempt: 0 } : {}),
      });
      for (const key of started) {
        q.spawnChild('reconcile', {
          id: mcsWorkerId(key),
          input: { key, dedicatedNamespace: context.dedicatedNamespace },
        });
      }
    }),
    /** A worker finished: free its slot, requeue its key if it changed meanwhile, start the next ones. */
    finishAndDispatch: enqueueActions(({ context, event, self, enqueue: q }) => {
      assertEvent(event, ['work.done', 'work.failed']);
      q.stopChild(mcsWorkerId(event.key));
      if (event.type === 'work.done') q.cancel(`retry:${event.key}`);
      const { next, started } = settleWork(context, event, (w) => takeUpTo(w, context.workers));
      q.assign(next);
      if (event.type === 'work.failed') {
        q.raise({ type: 'work.retry', key: event.key }, { delay: 'workRetryDelay', id: `retry:${event.key}` });
      }
      if (event.type === 'work.failed' && event.kind === 'unauthorized') {
        // The parent refused the dedicated credentials: the root has registration re-check them.
        const report: ChildReport = { type: 'credentials.rejected', component: 'mcs', message: event.message };
        q.sendTo(reportTo({ self }), report);
      }
      for (const key of started) {
        q.spawnChild('reconcile', {
          id: mcsWorkerId(key),
          input: { key, dedicatedNamespace: context.dedicatedNamespace },
        });
      }
    }),
  },
});

/** The child's version, as the version check's output (`params`). */
const versionParams = ({ event }: { readonly event: { readonly output: string } }): { version: string } => ({
  version: event.output,
});
const noteVersion = { type: 'noteVersion', params: versionParams } as const;

const watchInput = ({ context }: { context: McsContext }): WatchInput => ({
  dedicatedNamespace: context.dedicatedNamespace,
});

export const mcsMachine = mcsSetup.createMachine({
  id: 'mcs',
  initial: 'starting',
  context: ({ input }) => ({
    enabled: input.enabled,
    dedicatedNamespace: input.dedicatedNamespace,
    workers: Math.max(1, input.workers ?? defaultWorkers),
    childVersion: undefined,
    support: undefined,
    queue: emptyQueue,
    failures: {},
    exportsSynced: false,
    slicesSynced: false,
    checkAttempt: 0,
    exportsAttempt: 0,
    slicesAttempt: 0,
    lastFailure: undefined,
    reconciled: 0,
  }),
  states: {
    starting: { always: [{ guard: 'enabled', target: 'checkingChild' }, { target: 'disabled' }] },
    /** The MultiClusterService gate is off: nothing is watched or written. */
    disabled: {},
    checkingChild: {
      invoke: {
        id: 'readChildVersion',
        src: 'readChildVersion',
        onDone: [
          { guard: { type: 'supported', params: versionParams }, target: 'syncing', actions: noteVersion },
          { target: 'unsupported', actions: noteVersion },
        ],
        onError: { target: 'waitingForChild', actions: { type: 'recordCheckFailure', params: errorParams } },
      },
    },
    waitingForChild: { after: { checkRetryDelay: 'checkingChild' } },
    /** The child is older than v1.21.0-beta.1 (or its version does not parse): the Go agent runs no syncer either. */
    unsupported: {},
    syncing: {
      type: 'parallel',
      tags: [syncingTag],
      states: {
        exports: watchRegion(
          {
            src: 'watchExports',
            ended: 'exports.watchEnded',
            resumesAtOnce: 'watchExpired',
            recordFailure: 'recordExportsFailure',
            retryDelay: 'exportsRetryDelay',
          },
          watchInput,
        ),
        slices: watchRegion(
          {
            src: 'watchSlices',
            ended: 'slices.watchEnded',
            resumesAtOnce: 'watchExpired',
            recordFailure: 'recordSlicesFailure',
            retryDelay: 'slicesRetryDelay',
          },
          watchInput,
        ),
        work: {
          on: {
            'export.changed': { actions: 'queueAndDispatch' },
            'exports.synced': { actions: 'queueAndDispatch' },
            'slices.synced': { actions: 'queueAndDispatch' },
            'work.retry': { actions: 'queueAndDispatch' },
            'work.done': { actions: 'finishAndDispatch' },
            'work.failed': { actions: 'finishAndDispatch' },
          },
        },
      },
    },
  },
});
