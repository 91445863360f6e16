// The deployer lifecycle (spec §1.5, §7): after registration, in every leadership term,
//   loadingCredentials  read the app-deployer credentials in the child (retried forever, §7.1.1);
//   publishing          publish them to the parent as Secret child-cluster-deployer (§7.1.2, every mode:
//                       the controller-manager pushes and prunes with them);
//                       both retried with exponential backoff (timing.ts), with one warning per kind of
//                       failure (a missing app-deployer ServiceAccount is warned about once, not every try);
//   standingBy          Push, or Dual with AppPusher on: the parent deploys; the agent only watches the
//                       Descriptions and HelmReleases to inject its finalizer (spec §7.3 step 1, §7.4
//                       step 1: every sync mode), writing nothing to the child and no status;
//   deploying           Pull, or Dual with AppPusher off, four parallel regions:
//     watch     lists and watches the Descriptions of the dedicated namespace; each change is queued;
//               a failed watch backs off (workloads stay as they are while the parent is unreachable);
//     helm      the same for the HelmReleases (and the HelmCharts, which queue Descriptions again);
//     drift     with Recovery, watches what was applied in the child; a change queues the owner again;
//               each kind's watch that ends is watched again at once (410 Gone) or after its own
//               backoff (a failure), so Recovery holds for as long as the term lasts; a kind whose
//               watch expired is listed again first, until a watch of it is open (driftRelists);
//     work      a per-key, deduplicated work queue; HelmRelease keys share it, prefixed with their kind
//               (helmReleaseWorkKey), but each kind has reconcile workers of its own (`workers`, 2
//               each by default, spec §7.1.6), so slow helm runs never hold up Descriptions;
//               a failed reconcile is queued again after a per-key backoff.
//
// Which app-deployer credentials are in use is `session`, a generation number (never a token).
//
// Pure: effects are provided from src/ (or by tests) with `.provide()`.

import {
  assertEvent,
  assign,
  enqueueActions,
  fromCallback,
  fromEventObservable,
  fromPromise,
  sendTo,
  setup,
} from 'xstate';
import { reportTo, type ChildReport } from '../events.ts';
import { failureKind, failureMessage, notProvided as notProvidedBy, type FailureKind } from '../failure.ts';
import {
  defaultWorkerLimits,
  deployerRole,
  emptyQueue,
  driftRelistsAfter,
  enqueue,
  settleWork,
  takeWork,
  type SyncMode,
  type WorkerLimits,
  type WorkQueue,
} from './decisions.ts';
import { helmReleaseWorkKey, workKindOf } from './helm-releases.ts';
import { startupFailureKind, startupStepOf } from './timing.ts';
import {
  errorParams,
  resumesAtOnce,
  watchRegion as sharedWatchRegion,
  type WatchEndKind,
  type WatchFailureParams,
} from '../watch.ts';

export interface DeployerInput {
  readonly clusterId: string;
  readonly dedicatedNamespace: string;
  readonly syncMode: SyncMode;
  readonly appPusher: boolean;
  /** Reconcile workers at most, per kind (default 2 each, spec §7.1.6). */
  readonly workers?: Partial<WorkerLimits>;
}

export interface DeployerContext {
  readonly clusterId: string;
  readonly dedicatedNamespace: string;
  /**
   * Which app-deployer credentials are in use: the generation loadCredentials made (1, 2, … in a
   * process; 0 before the first). src/ keeps the clients built from them under this number; the
   * credentials never reach the context.
   */
  readonly session: number;
  readonly deploys: boolean;
  readonly workers: WorkerLimits;
  readonly queue: WorkQueue;
  /** Consecutive failed reconciles per key; drives that key's backoff. */
  readonly failures: Readonly<Record<string, number>>;
  /** Consecutive failed attempts of the current start-up step or Description watch. */
  readonly attempt: number;
  /** Consecutive failed HelmRelease / HelmChart watches. */
  readonly helmAttempt: number;
  /** Consecutive failed Recovery watches per applied kind; drives that kind's backoff. */
  readonly driftAttempts: Readonly<Record<string, number>>;
  /**
   * Recovery kinds whose next watch lists them again first (their watch expired: 410 Gone), until a
   * watch of the kind is open again (driftRelistsAfter).
   */
  readonly driftRelists: readonly string[];
  readonly lastFailure: string | undefined;
  /** The kind of the current start-up failure (startupFailureKind), warned about once. */
  readonly startupFailure: string | undefined;
  readonly reconciled: number;
}

export type DeployerEvent =
  /** A Description was added, changed, or deleted in the parent (key `<namespace>/<name>`). */
  | { readonly type: 'description.changed'; readonly key: string }
  /** The Description list is complete (after a full list). */
  | { readonly type: 'descriptions.synced' }
  /** The Description watch ended (machines/watch.ts): `ended` and `expired` resume at once, `failed` backs off. */
  | { readonly type: 'descriptions.watchEnded'; readonly kind: WatchEndKind; readonly message: string }
  /** A HelmRelease was added, changed, or deleted in the parent (key `<namespace>/<name>`). */
  | { readonly type: 'helmRelease.changed'; readonly key: string }
  /** The HelmRelease (and HelmChart) lists are complete. */
  | { readonly type: 'helm.synced' }
  /** The HelmRelease or HelmChart watch ended (as descriptions.watchEnded). */
  | { readonly type: 'helm.watchEnded'; readonly kind: WatchEndKind; readonly message: string }
  /** Recovery: an object applied for this Description changed in the child. */
  | { readonly type: 'drift.detected'; readonly key: string }
  /** Recovery: the watch of one applied kind (`resource`: `<apiVersion>/<kind>`) is open. */
  | { readonly type: 'drift.watching'; readonly resource: string }
  /** Recovery: the watch of one applied kind ended (machines/watch.ts). */
  | {
      readonly type: 'drift.watchEnded';
      readonly resource: string;
      readonly kind: WatchEndKind;
      readonly message: string;
    }
  /** To the watchDrift actor: watch the kind again; `relist`: list it first (driftWatchStart). */
  | { readonly type: 'drift.rewatch'; readonly resource: string; readonly relist: boolean }
  /** Internal: a failed Recovery watch's backoff is over. */
  | { readonly type: 'drift.retry'; readonly resource: string }
  /** A reconcile worker finished its key. */
  | { readonly type: 'work.done'; readonly key: string }
  /** `kind`: how the call that failed failed (a 401 from the parent: the root has the credentials re-checked). */
  | { readonly type: 'work.failed'; readonly key: string; readonly message: string; readonly kind?: FailureKind }
  /** Internal: a failed key's backoff is over. */
  | { readonly type: 'work.retry'; readonly key: string }
  /**
   * From the root, when the agent stops: stop the reconciles (their helm runs get SIGTERM), wait for
   * every helm run to exit, then report `deployer.drained`; the root bounds the wait.
   */
  | { readonly type: 'deployer.drain' };

/** Every effect after loadCredentials runs with the credentials of one generation (context.session). */
export interface SessionInput {
  readonly session: number;
}

export interface PublishInput extends SessionInput {
  readonly clusterId: string;
  readonly dedicatedNamespace: string;
}

export interface WatchInput extends SessionInput {
  readonly dedicatedNamespace: string;
}

export interface HelmWatchInput extends WatchInput {
  /** Standing by, only HelmReleases are watched (for the finalizer); deploying, HelmCharts too. */
  readonly deploys: boolean;
}

export interface ReconcileInput extends SessionInput {
  /** A Description key `<ns>/<name>`, or a HelmRelease key (helmReleaseWorkKey). */
  readonly key: string;
  readonly dedicatedNamespace: string;
  /** False when standing by: only the finalizer is injected (Descriptions and HelmReleases alike). */
  readonly deploys: boolean;
}

const notProvided = notProvidedBy('deployer');

/** What the start-up steps' guard and actions are given about a failure: its kind for the warning, its text. */
interface StartupFailureParams {
  /** startupFailureKind: the step and how it failed. */
  readonly kind: string;
  readonly message: string;
}

const startupParams = ({
  event,
}: {
  event: { readonly type: string; readonly error: unknown };
}): StartupFailureParams => ({
  kind: startupFailureKind(startupStepOf(event), event.error),
  message: failureMessage(event.error),
});

/** What reportRejected is given: how the call failed (a 401 is reported to the root) and why. */
interface RejectionParams {
  readonly kind: FailureKind | undefined;
  readonly message: string;
}

const publishRejection = ({ event }: { event: { readonly error: unknown } }): RejectionParams => ({
  kind: failureKind(event.error),
  message: failureMessage(event.error),
});

/**
 * A start-up step failed: count it and retry from `target` after the backoff; a failure of a new kind is
 * also noted and warned about once. `also`: what else every failure of that step does.
 */
const startupFailure = <T extends string, A>(target: T, ...also: A[]) =>
  [
    {
      guard: { type: 'newStartupFailure', params: startupParams },
      target,
      actions: [
        { type: 'recordFailure', params: startupParams },
        { type: 'noteStartupFailure', params: startupParams },
        'warnStartupFailure',
        ...also,
      ],
    },
    { target, actions: [{ type: 'recordFailure', params: startupParams }, ...also] },
  ] as const;

const workRejection = ({
  event,
}: {
  event: { readonly kind?: FailureKind; readonly message: string };
}): RejectionParams => ({
  kind: event.kind,
  message: event.message,
});

/** The start-up loop's states: a repeated failure among them is logged at debug (warnStartupFailure warns). */
export const deployerStartupStates: readonly string[] = [
  'loadingCredentials',
  'waitingForCredentials',
  'publishing',
  'waitingToPublish',
];

export const workerId = (key: string): string => `reconcile:${key}`;

const workerInput = (context: DeployerContext, key: string): ReconcileInput => ({
  session: context.session,
  key,
  dedicatedNamespace: context.dedicatedNamespace,
  deploys: context.deploys,
});

const deployerSetup = setup({
  types: {
    context: {} as DeployerContext,
    events: {} as DeployerEvent,
    input: {} as DeployerInput,
  },
  actors: {
    /**
     * Reads the app-deployer credentials in the child and keeps them (and the clients built from them)
     * in src, never in context; resolves to their generation (context.session).
     */
    loadCredentials: fromPromise<number>(notProvided('loadCredentials')),
    /** Creates or updates the Secret child-cluster-deployer in the dedicated namespace. */
    publishDeployerSecret: fromPromise<undefined, PublishInput>(notProvided('publishDeployerSecret')),
    /** Lists and watches Descriptions; sends description.changed / descriptions.synced / watchEnded. */
    watchDescriptions: fromEventObservable<DeployerEvent, WatchInput>(notProvided('watchDescriptions')),
    /** Lists and watches HelmReleases (and HelmCharts); sends helmRelease.changed, description.changed,
     *  helm.synced, helm.watchEnded. */
    watchHelm: fromEventObservable<DeployerEvent, HelmWatchInput>(notProvided('watchHelm')),
    /**
     * Recovery: watches the applied kinds in the child; a stream of drift.detected, drift.watching and
     * drift.watchEnded (per kind), taking drift.rewatch as commands (src/ adapts an Observable with
     * fromCommandedObservable). Never ends by itself.
     */
    watchDrift: fromCallback<DeployerEvent, WatchInput>(notProvided('watchDrift')),
    /** Reconciles one Description or HelmRelease; sends work.done or work.failed exactly once. */
    reconcile: fromCallback<DeployerEvent, ReconcileInput>(notProvided('reconcile')),
    /** Draining: resolves once every helm process the reconciles started has exited. */
    helmRunsExited: fromPromise<undefined>(notProvided('helmRunsExited')),
  },
  delays: {
    /** Start-up steps: exponential backoff on context.attempt (prepareRetryPolicy), forever (spec §7.1). */
    prepareRetryDelay: notProvided('prepareRetryDelay'),
    /** Backoff before the next Description watch (context.attempt). */
    watchRetryDelay: notProvided('watchRetryDelay'),
    /** Backoff before the next HelmRelease watch (context.helmAttempt). */
    helmWatchRetryDelay: notProvided('helmWatchRetryDelay'),
    /** Backoff before a failed Recovery watch starts again (context.driftAttempts[resource]). */
    driftRetryDelay: notProvided('driftRetryDelay'),
    /** Backoff before a failed key is queued again (context.failures[key]). */
    workRetryDelay: notProvided('workRetryDelay'),
  },
  guards: {
    deploys: ({ context }) => context.deploys,
    /** A start-up step failed in another way than the last one (or first): worth a warning. */
    newStartupFailure: ({ context }: { context: DeployerContext }, params: StartupFailureParams) =>
      params.kind !== context.startupFailure,
    /** An idle or expired watch resumes at once; only a failed one backs off (machines/watch.ts). */
    watchResumesAtOnce: ({ event }) =>
      (event.type === 'descriptions.watchEnded' ||
        event.type === 'helm.watchEnded' ||
        event.type === 'drift.watchEnded') &&
      resumesAtOnce(event.kind),
  },
  actions: {
    /**
     * A failed step: loading or publishing the credentials, or the Description watch (it ended, or its
     * actor failed; the message of the watchEnded event or the actor's error): the next try backs off further.
     */
    recordFailure: assign(({ context }: { context: DeployerContext }, params: WatchFailureParams) => ({
      attempt: context.attempt + 1,
      lastFailure: params.message,
    })),
    resetAttempt: assign({ attempt: 0, lastFailure: undefined }),
    /** The credentials of this generation are in use from now on. */
    useSession: assign((_: unknown, params: { readonly session: number }) => ({ session: params.session })),
    reportDrained: sendTo(reportTo, { type: 'deployer.drained' } satisfies ChildReport),
    /** A start-up step succeeded: the next failure is warned about again. */
    resetStartupFailure: assign({ startupFailure: undefined }),
    noteStartupFailure: assign((_: unknown, params: StartupFailureParams) => ({ startupFailure: params.kind })),
    /** Says (a warning) why the deployer cannot start; once per kind of failure (lastFailure has the text). */
    warnStartupFailure: notProvided('warnStartupFailure'),
    resetHelmAttempt: assign({ helmAttempt: 0 }),
    /** The same for the HelmRelease / HelmChart watch, on its own counter. */
    recordHelmWatchFailure: assign(({ context }: { context: DeployerContext }, params: WatchFailureParams) => ({
      helmAttempt: context.helmAttempt + 1,
      lastFailure: params.message,
    })),
    /** Recovery: a kind whose watch expired is listed again before its next watch. */
    noteDriftEnd: assign({
      driftRelists: ({ context, event }) => {
        assertEvent(event, 'drift.watchEnded');
        return driftRelistsAfter(context.driftRelists, event.resource, event.kind);
      },
    }),
    /** Recovery: the kind's watch starts again now (sent to the watchDrift actor), listing it first if it expired. */
    rewatchDrift: sendTo('watchDrift', ({ context, event }) => {
      assertEvent(event, ['drift.watchEnded', 'drift.retry']);
      const relist = context.driftRelists.includes(event.resource);
      return { type: 'drift.rewatch' as const, resource: event.resource, relist };
    }),
    resetDriftAttempts: assign({
      driftRelists: ({ context, event }) => {
        assertEvent(event, 'drift.watching');
        return driftRelistsAfter(context.driftRelists, event.resource, 'watching');
      },
      driftAttempts: ({ context, event }) => {
        assertEvent(event, 'drift.watching');
        if (!(event.resource in context.driftAttempts)) return context.driftAttempts;
        return Object.fromEntries(Object.entries(context.driftAttempts).filter(([k]) => k !== event.resource));
      },
    }),
  },
}).extend({
  // The actions that enqueue others, declared once the parameterised ones above have their types
  // (xstate infers an enqueueActions' action types from the setup it is part of).
  actions: {
    /** The parent refused the dedicated credentials (a 401): the root has registration re-check them. */
    reportRejected: enqueueActions(({ self, enqueue: q }, params: RejectionParams) => {
      if (params.kind !== 'unauthorized') return;
      const report: ChildReport = { type: 'credentials.rejected', component: 'deployer', message: params.message };
      q.sendTo(reportTo({ self }), report);
    }),
    /** Draining: every reconcile stops (a helm it runs gets SIGTERM) and no new one starts. */
    stopWorkers: enqueueActions(({ context, enqueue: q }) => {
      for (const k of context.queue.active) q.stopChild(workerId(k));
      q.assign({ queue: emptyQueue });
    }),
    /** Recovery: a kind's watch failed; it starts again after that kind's backoff. */
    retryDriftLater: enqueueActions(({ context, event, enqueue: q }) => {
      assertEvent(event, 'drift.watchEnded');
      q.assign({
        driftAttempts: { ...context.driftAttempts, [event.resource]: (context.driftAttempts[event.resource] ?? 0) + 1 },
        lastFailure: event.message,
      });
      q.raise(
        { type: 'drift.retry', resource: event.resource },
        { delay: 'driftRetryDelay', id: `driftRetry:${event.resource}` },
      );
    }),
    /** Queues a key and starts workers while there is room. */
    queueAndDispatch: enqueueActions(({ context, event, enqueue: q }) => {
      assertEvent(event, ['description.changed', 'helmRelease.changed', 'drift.detected', 'work.retry']);
      const key = event.type === 'helmRelease.changed' ? helmReleaseWorkKey(event.key) : event.key;
      const queued = enqueue(context.queue, key);
      const { queue, started } = takeWork(queued, context.workers, workKindOf);
      q.assign({ queue });
      for (const k of started) {
        q.spawnChild('reconcile', {
          id: workerId(k),
          input: workerInput(context, k),
        });
      }
    }),
    /** A worker finished: free its slot, requeue it if it changed meanwhile, start the next ones. */
    finishAndDispatch: enqueueActions(({ context, event, enqueue: q }) => {
      assertEvent(event, ['work.done', 'work.failed']);
      q.stopChild(workerId(event.key));
      if (event.type === 'work.done') q.cancel(`retry:${event.key}`);
      const { next, started } = settleWork(context, event, (w) => takeWork(w, context.workers, workKindOf));
      q.assign(next);
      if (event.type === 'work.failed') {
        q.raise({ type: 'work.retry', key: event.key }, { delay: 'workRetryDelay', id: `retry:${event.key}` });
      }
      for (const k of started) {
        q.spawnChild('reconcile', {
          id: workerId(k),
          input: workerInput(context, k),
        });
      }
    }),
  },
});

/** The Description watch, resumed at once when it expires, backing off when it fails. */
const watchRegion = sharedWatchRegion(
  {
    src: 'watchDescriptions',
    ended: 'descriptions.watchEnded',
    resumesAtOnce: 'watchResumesAtOnce',
    recordFailure: 'recordFailure',
    retryDelay: 'watchRetryDelay',
  },
  ({ context }: { context: DeployerContext }) => ({
    session: context.session,
    dedicatedNamespace: context.dedicatedNamespace,
  }),
  { 'descriptions.synced': { actions: 'resetAttempt' } } as const,
);

/** The HelmRelease (and HelmChart) watch, resumed at once when it expires, backing off when it fails. */
const helmRegion = sharedWatchRegion(
  {
    src: 'watchHelm',
    ended: 'helm.watchEnded',
    resumesAtOnce: 'watchResumesAtOnce',
    recordFailure: 'recordHelmWatchFailure',
    retryDelay: 'helmWatchRetryDelay',
  },
  ({ context }: { context: DeployerContext }) => ({
    session: context.session,
    dedicatedNamespace: context.dedicatedNamespace,
    deploys: context.deploys,
  }),
  { 'helm.synced': { actions: 'resetHelmAttempt' } } as const,
);

/** The work queue: changes are queued, workers finish, failed keys come back after their backoff. */
const workRegion = {
  on: {
    'description.changed': { actions: 'queueAndDispatch' },
    'helmRelease.changed': { actions: 'queueAndDispatch' },
    'drift.detected': { actions: 'queueAndDispatch' },
    'work.retry': { actions: 'queueAndDispatch' },
    'work.done': { actions: 'finishAndDispatch' },
    'work.failed': { actions: [{ type: 'reportRejected', params: workRejection }, 'finishAndDispatch'] },
  },
} as const;

export const deployerMachine = deployerSetup.createMachine({
  id: 'deployer',
  initial: 'loadingCredentials',
  on: { 'deployer.drain': '.draining' },
  context: ({ input }) => ({
    clusterId: input.clusterId,
    dedicatedNamespace: input.dedicatedNamespace,
    session: 0,
    deploys: deployerRole(input.syncMode, input.appPusher).deploys,
    workers: {
      Description: Math.max(1, input.workers?.Description ?? defaultWorkerLimits.Description),
      HelmRelease: Math.max(1, input.workers?.HelmRelease ?? defaultWorkerLimits.HelmRelease),
    },
    queue: emptyQueue,
    failures: {},
    attempt: 0,
    helmAttempt: 0,
    driftAttempts: {},
    driftRelists: [],
    lastFailure: undefined,
    startupFailure: undefined,
    reconciled: 0,
  }),
  states: {
    loadingCredentials: {
      invoke: {
        id: 'loadCredentials',
        src: 'loadCredentials',
        onDone: {
          target: 'publishing',
          actions: [
            { type: 'useSession', params: ({ event }) => ({ session: event.output }) },
            'resetAttempt',
            'resetStartupFailure',
          ],
        },
        onError: startupFailure('waitingForCredentials'),
      },
    },
    waitingForCredentials: { after: { prepareRetryDelay: 'loadingCredentials' } },
    publishing: {
      invoke: {
        id: 'publishDeployerSecret',
        src: 'publishDeployerSecret',
        input: ({ context }) => ({
          session: context.session,
          clusterId: context.clusterId,
          dedicatedNamespace: context.dedicatedNamespace,
        }),
        onDone: [
          { guard: 'deploys', target: 'deploying', actions: ['resetAttempt', 'resetStartupFailure'] },
          { target: 'standingBy', actions: ['resetAttempt', 'resetStartupFailure'] },
        ],
        onError: startupFailure('waitingToPublish', { type: 'reportRejected', params: publishRejection }),
      },
    },
    waitingToPublish: { after: { prepareRetryDelay: 'publishing' } },
    /** The parent deploys (Push, or Dual with AppPusher on); Descriptions and HelmReleases still get the finalizer. */
    standingBy: {
      type: 'parallel',
      states: { watch: watchRegion, helm: helmRegion, work: workRegion },
    },
    deploying: {
      type: 'parallel',
      states: {
        watch: watchRegion,
        helm: helmRegion,
        drift: {
          invoke: {
            id: 'watchDrift',
            src: 'watchDrift',
            input: ({ context }) => ({ session: context.session, dedicatedNamespace: context.dedicatedNamespace }),
            onError: { actions: { type: 'recordFailure', params: errorParams } },
          },
          on: {
            'drift.watching': { actions: 'resetDriftAttempts' },
            'drift.watchEnded': [
              { guard: 'watchResumesAtOnce', actions: ['noteDriftEnd', 'rewatchDrift'] },
              { actions: ['noteDriftEnd', 'retryDriftLater'] },
            ],
            'drift.retry': { actions: 'rewatchDrift' },
          },
        },
        work: workRegion,
      },
    },
    /** The agent stops: the reconciles are stopped; the helm runs they started exit (or the root stops waiting). */
    draining: {
      entry: 'stopWorkers',
      on: { 'deployer.drain': {} },
      invoke: {
        id: 'helmRunsExited',
        src: 'helmRunsExited',
        onDone: { target: 'drained', actions: 'reportDrained' },
        onError: { target: 'drained', actions: 'reportDrained' },
      },
    },
    drained: { on: { 'deployer.drain': { actions: 'reportDrained' } } },
  },
});
