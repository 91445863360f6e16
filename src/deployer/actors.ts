// The deployer statechart with its real effects: the app-deployer credentials from the child, the
// Secret child-cluster-deployer in the parent, the Description watch, Recovery's drift watches, and
// reconciles against both clusters.

import type { KubeConfig } from '@kubernetes/client-node';
import { filter, NEVER, tap } from 'rxjs';
import { fromCallback, fromEventObservable, fromPromise, type InspectionEvent } from 'xstate';
import {
  deployerMachine,
  type DeployerEvent,
  type HelmWatchInput,
  type PublishInput,
  type ReconcileInput,
  type WatchInput,
} from '../../machines/deployer/machine.ts';
import { deployerDelays, deployerTiming } from '../../machines/deployer/timing.ts';
import type { AgentConfig } from '../config/config.ts';
import { failureKind, failureMessage } from '../../machines/failure.ts';
import type { ObjectEvent } from '../kube/event-correlator.ts';
import { apiEventSink, EventRecorder, type EventSink } from '../kube/event-recorder.ts';
import { childRequestLimiter, type RequestLimiter } from '../kube/request-limiter.ts';
import type { Logger } from '../logging/logger.ts';
import { loadParentAccess, type ParentAccess } from '../parent/access.ts';
import { ChildObjects } from './child-objects.ts';
import {
  appDeployerKubeConfig,
  deployerSecret,
  publishDeployerSecret,
  readAppDeployer,
  type AppDeployer,
} from './credentials.ts';
import { DescriptionStore, descriptionEvents$ } from './descriptions.ts';
import { DriftWatches, type DriftCommand, type DriftReport } from './drift.ts';
import { fromCommandedObservable } from '../tunnel/observable-actor.ts';
import { Helm, HelmRuns } from './helm.ts';
import { HelmChartStore, HelmReleaseReconciler, HelmReleaseStore, helmEvents$ } from './helm-releases.ts';
import { DescriptionReconciler } from './reconciler.ts';
import { helmReleaseOfWorkKey } from '../../machines/deployer/helm-releases.ts';

export interface DeployerDeps {
  readonly config: AgentConfig;
  /** The child with the agent's own credentials (reads the app-deployer secret). */
  readonly child: KubeConfig;
  readonly log: Logger;
  /** The parent with the dedicated credentials; by default read from the child Secret `parent-cluster`. */
  readonly parent?: () => Promise<ParentAccess>;
  /** The app-deployer credentials; by default read from the child (spec §7.1.1). */
  readonly appDeployer?: () => Promise<AppDeployer>;
  /** Requests to the child (--kube-api-qps/burst); shared with the heartbeat; by default from the config. */
  readonly childLimiter?: RequestLimiter;
  readonly random?: () => number;
  /** Where the helm runs' charts are inspected (they run outside the deployer's actor tree). */
  readonly inspect?: (ev: InspectionEvent) => void;
}

interface Session {
  readonly parent: KubeConfig;
  readonly events: EventSink;
  readonly deployer: AppDeployer;
  readonly reconciler: DescriptionReconciler;
  readonly helmReleases: HelmReleaseReconciler;
  readonly drift: DriftWatches | undefined;
}

/**
 * The clients of each generation of app-deployer credentials, by the number the chart keeps in its
 * context (`session`): only the latest is kept; an actor asking for an older one is a bug.
 */
class Sessions {
  private generation = 0;
  private current: Session | undefined;

  /** Keeps `s` as the next generation (the previous one goes); returns its number. */
  add(s: Session): number {
    this.generation++;
    this.current = s;
    return this.generation;
  }

  latest(): Session | undefined {
    return this.current;
  }

  of(generation: number): Session {
    if (this.current === undefined || generation !== this.generation) {
      throw new Error(
        `deployer: credentials generation ${String(generation)} is not loaded (${String(this.generation)} is)`,
      );
    }
    return this.current;
  }
}

/**
 * The process's Event reporter: an Event about a Description or HelmRelease is logged (warnings at
 * warn) and recorded in the parent with the current term's credentials (`sink`). One recorder for the
 * process: its counts and spam filter outlive a term.
 */
function eventReporter(log: Logger, sink: () => EventSink | undefined): (e: ObjectEvent) => void {
  const recorder = new EventRecorder({
    sink,
    onDropped: (why, e) => {
      log.debug({ reason: e.reason, object: `${e.involved.kind} ${e.involved.name}`, err: why }, 'event not recorded');
    },
  });
  return (e) => {
    const field = e.involved.kind === 'HelmRelease' ? 'helmRelease' : 'description';
    const fields = { [field]: `${e.involved.namespace ?? ''}/${e.involved.name}`, message: e.message };
    if (e.type === 'Warning') log.warn(fields, e.reason);
    else log.debug(fields, e.reason);
    recorder.record(e);
  };
}

/**
 * Recovery's watches of the applied kinds, for this cluster's Descriptions, as a stream; the chart's
 * drift.rewatch commands come in as a stream too. Without Recovery, a stream that never sends.
 */
function watchDriftActor(drifts: (session: number) => DriftWatches | undefined, log: Logger) {
  return fromCommandedObservable<DriftReport, DeployerEvent, WatchInput>((input, commands) => {
    const drift = drifts(input.session);
    if (drift === undefined) return NEVER;
    // Only objects of this cluster's Descriptions (leftovers of another registration are not ours).
    const ours = `${input.dedicatedNamespace}/`;
    const rewatch$ = commands.pipe(filter((c): c is DriftCommand => c.type === 'drift.rewatch'));
    return drift.events$(rewatch$).pipe(
      filter((e) => e.type !== 'drift.detected' || e.key.startsWith(ours)),
      tap((e) => {
        if (e.type !== 'drift.watchEnded') return;
        const fields = { kind: e.resource, end: e.kind, err: e.message };
        if (e.kind === 'failed') log.warn(fields, 'Recovery watch of the child failed; retrying with backoff');
        else log.debug(fields, 'Recovery watch of the child ended; resuming');
      }),
    );
  });
}

/** One reconcile of a Description or HelmRelease: work.done or work.failed, nothing once stopped. */
function reconcileActor(sessionOf: (generation: number) => Session, log: Logger) {
  return fromCallback<DeployerEvent, ReconcileInput>(({ input, sendBack }) => {
    const s = sessionOf(input.session);
    // Aborted when the worker is stopped: at the end of the leadership term (the machine stops),
    // pending child and parent writes are dropped and helm gets SIGTERM, so nothing is written
    // while another replica leads. (Also aborted once the reconcile is over, to no effect.)
    const stop = new AbortController();
    const helmRelease = helmReleaseOfWorkKey(input.key);
    // Standing by (deploys false), both only get the finalizer.
    const work =
      helmRelease !== undefined
        ? s.helmReleases.reconcile(helmRelease, input.deploys, stop.signal)
        : s.reconciler.reconcile(input.key, input.deploys, stop.signal);
    work.then(
      () => {
        sendBack({ type: 'work.done', key: input.key });
      },
      (err: unknown) => {
        if (stop.signal.aborted) {
          log.debug({ key: input.key }, 'reconcile stopped with the deployer');
          return;
        }
        const message = failureMessage(err);
        const what = helmRelease === undefined ? { description: input.key } : { helmRelease };
        log.warn({ ...what, err: message }, 'reconcile failed; retrying with backoff');
        sendBack({ type: 'work.failed', key: input.key, message, kind: failureKind(err) });
      },
    );
    return () => {
      stop.abort(new Error(`the reconcile of ${input.key} was stopped (the deployer stopped)`));
    };
  });
}

/** The deployer statechart with the real effects provided; run it with a DeployerInput. */
export function createDeployerMachine(deps: DeployerDeps): typeof deployerMachine {
  const { config, child, log } = deps;
  const random = deps.random ?? Math.random;
  const recovery = config.featureGates.Recovery;
  const childUrl = child.getCurrentCluster()?.server ?? '';
  const parentAccess =
    deps.parent ?? (() => loadParentAccess(child, config.systemNamespace, config.registration.parentUrl));
  const appDeployer = deps.appDeployer ?? (() => readAppDeployer(child, config.systemNamespace));
  const store = new DescriptionStore();
  const helmStores = { releases: new HelmReleaseStore(), charts: new HelmChartStore(), descriptions: store };
  const limiter = deps.childLimiter ?? childRequestLimiter(config.child.qps, config.child.burst);
  const sessions = new Sessions();
  // The helm processes of every term's reconciles: the drain waits for them (they outlive a stopped reconcile).
  const helmRuns = new HelmRuns();
  const onEvent = eventReporter(log, () => sessions.latest()?.events);
  const sessionOf = (generation: number): Session => sessions.of(generation);

  return deployerMachine.provide({
    actions: {
      warnStartupFailure: ({ context }) => {
        log.warn(
          { err: context.lastFailure },
          'the deployer cannot start (app-deployer credentials or the child-cluster-deployer Secret); retrying with backoff',
        );
      },
    },
    actors: {
      helmRunsExited: fromPromise(() => helmRuns.allExited()),
      loadCredentials: fromPromise<number>(async () => {
        const parent = (await parentAccess()).kubeConfig;
        const deployer = await appDeployer();
        const childKc = appDeployerKubeConfig(childUrl, deployer, child.getCurrentCluster()?.proxyUrl);
        const objects = new ChildObjects(childKc, limiter);
        const drift = recovery ? new DriftWatches(childKc, objects, limiter) : undefined;
        const reconciler = new DescriptionReconciler({ parent, objects, store, drift, onEvent });
        const helmReleases = new HelmReleaseReconciler({
          parent,
          stores: helmStores,
          objects,
          helm: new Helm({
            binary: config.extensions.helmBinary,
            childUrl,
            deployer,
            runs: helmRuns,
            ...(deps.inspect === undefined ? {} : { inspect: deps.inspect }),
          }),
          onEvent,
        });
        // A new term starts from full lists: every Description and HelmRelease is reconciled once.
        store.reset();
        helmStores.releases.reset();
        helmStores.charts.reset();
        return sessions.add({ parent, events: apiEventSink(parent), deployer, reconciler, helmReleases, drift });
      }),
      publishDeployerSecret: fromPromise<undefined, PublishInput>(async ({ input }) => {
        const s = sessionOf(input.session);
        const outcome = await publishDeployerSecret(
          s.parent,
          deployerSecret(input.clusterId, input.dedicatedNamespace, childUrl, s.deployer),
        );
        log.info({ namespace: input.dedicatedNamespace }, `${outcome} Secret child-cluster-deployer in the parent`);
        return undefined;
      }),
      watchDescriptions: fromEventObservable<DeployerEvent, WatchInput>(({ input }) =>
        descriptionEvents$(sessionOf(input.session).parent, input.dedicatedNamespace, store),
      ),
      watchHelm: fromEventObservable<DeployerEvent, HelmWatchInput>(({ input }) =>
        helmEvents$(sessionOf(input.session).parent, input.dedicatedNamespace, input.deploys, helmStores),
      ),
      watchDrift: watchDriftActor((generation) => sessionOf(generation).drift, log),
      reconcile: reconcileActor(sessionOf, log),
    },
    delays: deployerDelays(deployerTiming, random),
  });
}
