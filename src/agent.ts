// The running agent: the root statechart (leadership gates registration and the registered
// components) with the real effects provided, and its one outward stream (src/observability/
// agent-events.ts) feeding the JSON transition log, the metrics, readiness and the statechart inspector.

import { filter, map, pairwise, startWith, Subject, type Observable, type Subscription } from 'rxjs';
import { createActor, fromPromise, type Actor, type InspectionEvent } from 'xstate';
import type { KubeConfig } from '@kubernetes/client-node';
import { agentMachine, type AgentInput } from '../machines/agent/machine.ts';
import { agentDelays } from '../machines/agent/timing.ts';
import type { ChildReport } from '../machines/events.ts';
import type { AgentConfig } from './config/config.ts';
import { childKubeConfig } from './kube/child.ts';
import { describeProxy, proxyFromEnvironment, type ProxyEnv, type ProxyFunc } from './kube/proxy.ts';
import { createLeadershipMachine, electionIdentity } from './leadership/actors.ts';
import type { Logger } from './logging/logger.ts';
import { transitionLogger } from './logging/transitions.ts';
import {
  agentHappenings,
  heldUp,
  inspections,
  readiness,
  reports,
  type AgentHappening,
  type RootTags,
} from './observability/agent-events.ts';
import { AgentMetrics } from './observability/metrics.ts';
import { statechartInspector } from './observability/statechart-inspector.ts';
import type { Readiness } from './observability/server.ts';
import { createRegistrationMachine } from './registration/actors.ts';
import { loadParentAccess, type ParentAccess } from './parent/access.ts';
import { deployerStartupStates } from '../machines/deployer/machine.ts';
import { helmRunMachine } from '../machines/deployer/helm-run.ts';
import { routineHeartbeatStates } from '../machines/heartbeat/machine.ts';
import { routineLeadershipStates } from '../machines/leadership/machine.ts';
import {
  routineRegistrationStates,
  type IdentityOutput,
  type registrationMachine,
} from '../machines/registration/machine.ts';
import { routineSocketStates } from '../machines/socket/machine.ts';
import { predictorFacts, servesBuiltInPredictor } from '../machines/heartbeat/decisions.ts';
import { electionTiming } from '../machines/leadership/timing.ts';
import { redactUrls } from './logging/redact-url.ts';
import { tunnelReportLog } from './tunnel/report-log.ts';
import { actorClock, checkBeforeTimers } from './clock.ts';
import { serverAddress } from './tunnel/dial-allow-list.ts';
import { deferredServing } from './serving-components.ts';
import type { StreamRelay } from './tunnel/stream-relay.ts';

export type AgentSnapshot = ReturnType<Actor<typeof agentMachine>['getSnapshot']>;

/** How the agent ended: stopped (Lease released) → 0; failed → 1. */
export interface AgentExit {
  readonly code: 0 | 1;
  readonly failure?: string;
}

export type { RegistrationHeldUp } from './observability/agent-events.ts';

export interface RunningAgent {
  readonly actor: Actor<typeof agentMachine>;
  readonly identity: string;
  readonly metrics: AgentMetrics;
  /** Current readiness: registered and, when the tunnel is enabled, connected. */
  readonly readiness: () => Readiness;
  /** What happens: every machine's transitions, the children's reports, the root's tags (agent-events.ts). */
  readonly happenings: Observable<AgentHappening>;
  /** Resolves when the root machine finishes. */
  readonly exited: Promise<AgentExit>;
  /** Drains the deployer, stops the work, releases the Lease (if held), then `exited` resolves with code 0. */
  stop(): void;
}

export interface AgentOptions {
  /** Shared with the health server; a fresh one otherwise. */
  readonly metrics?: AgentMetrics;
  /** The environment (HTTP(S)_PROXY/NO_PROXY, CLUSTER_CIDR/SERVICE_CIDR); the process's by default. */
  readonly env?: ProxyEnv;
}

/** What the component factories share. */
interface Wiring {
  readonly config: AgentConfig;
  readonly log: Logger;
  readonly env: ProxyEnv;
  readonly child: KubeConfig;
  readonly proxyFor: ProxyFunc;
  readonly metrics: AgentMetrics;
}

/** The child kubeconfig and proxies, with one line per cluster whose API calls go through a proxy. */
function connectWiring(config: AgentConfig, log: Logger, opts: AgentOptions): Wiring {
  const env = opts.env ?? process.env;
  // API calls to the parent and the child honour HTTP(S)_PROXY/NO_PROXY as client-go's do (spec §1.3).
  const proxyFor = proxyFromEnvironment(env);
  const child = childKubeConfig(config.child.kubeconfig, proxyFor, env);
  for (const [cluster, url] of [
    ['parent', config.registration.parentUrl],
    ['child', child.getCurrentCluster()?.server ?? ''],
  ] as const) {
    const proxy = url === '' ? undefined : proxyFor(url);
    if (proxy !== undefined)
      log.info({ cluster, proxy: describeProxy(proxy) }, `API calls to the ${cluster} go through a proxy`);
  }
  return { config, log, env, child, proxyFor, metrics: opts.metrics ?? new AgentMetrics() };
}

/** The tunnel metrics across sessions: the finished sessions' bytes, plus the current session's relay. */
function tunnelCounters(w: Wiring): (relay: StreamRelay) => void {
  let relay: StreamRelay | undefined;
  const closedBytes = { sent: 0, received: 0 };
  w.metrics.observeTunnel(() => {
    const s = relay?.stats;
    return {
      streams: s?.streams ?? 0,
      bytesSent: closedBytes.sent + (s?.bytesSent ?? 0),
      bytesReceived: closedBytes.received + (s?.bytesReceived ?? 0),
    };
  });
  return (next) => {
    if (relay !== undefined) {
      closedBytes.sent += relay.stats.bytesSent;
      closedBytes.received += relay.stats.bytesReceived;
    }
    relay = next;
  };
}

/** The scheduler calls a published predictor through the tunnel: the allow-list admits its address. */
function predictorTargets(config: AgentConfig): string[] {
  const p = predictorFacts(
    config.featureGates.Predictor,
    config.predictor.addr,
    config.predictor.directAccess,
    config.predictor.port,
  );
  const target = p.enabled ? serverAddress(p.address) : undefined;
  return target === undefined ? [] : [target];
}

type PromiseCreator<T> = Parameters<typeof fromPromise<T>>[0];

/**
 * Registration with its first step of every term, `resolveIdentity`, also waiting for the registered
 * components' effects to load (src/serving-components.ts): `registration.registered`, which starts
 * them, comes only after that step. Both run at once: the step takes as long as the slower.
 */
function identityAfterLoading(
  registration: typeof registrationMachine,
  load: () => Promise<void>,
): typeof registrationMachine {
  const provided = registration.implementations.actors.resolveIdentity;
  // fromPromise keeps its promise creator as the logic's `config`.
  const creator = provided !== undefined && 'config' in provided ? provided.config : undefined;
  if (typeof creator !== 'function') throw new Error('registration has no resolveIdentity promise to wait beside');
  const resolve = creator as PromiseCreator<IdentityOutput>;
  return registration.provide({
    actors: {
      resolveIdentity: fromPromise<IdentityOutput>(async (args) => {
        const [identity] = await Promise.all([resolve(args), load()]);
        return identity;
      }),
    },
  });
}

/** The root machine with every component's real effects provided (the registered ones loaded when first leading). */
function agentWithEffects(w: Wiring, input: AgentInput, inspect: (ev: InspectionEvent) => void): typeof agentMachine {
  const { config, child, log } = w;
  const parent = (): Promise<ParentAccess> =>
    loadParentAccess(child, config.systemNamespace, config.registration.parentUrl, w.proxyFor);
  const leadership = createLeadershipMachine({
    child,
    namespace: config.systemNamespace,
    leaseName: config.leaderElection.leaseName,
    log: log.child({ component: 'leadership' }),
  });
  const serving = deferredServing(
    { ...w, parent, tunnelTargets: predictorTargets(config), onRelay: tunnelCounters(w), inspect },
    input,
  );
  const registration = createRegistrationMachine({
    config,
    child,
    log: log.child({ component: 'registration' }),
    proxyFor: w.proxyFor,
  });
  return agentMachine.provide({
    actors: { leadership, registration: identityAfterLoading(registration, serving.load), ...serving.machines },
    delays: agentDelays(),
    actions: {
      warnDrainIncomplete: () => {
        log.warn('exiting while helm still runs: its release may stay pending');
      },
    },
  });
}

/** The root machine's input, from the configuration. */
function agentInput(config: AgentConfig, child: KubeConfig, identity: string): AgentInput {
  const le = config.leaderElection;
  return {
    leadership: {
      identity,
      enabled: le.enabled,
      timing: electionTiming(le),
    },
    registration: { parentUrl: config.registration.parentUrl, clusterName: config.registration.clusterName },
    deployer: { syncMode: config.registration.syncMode, appPusher: config.featureGates.AppPusher },
    predictor: { serve: servesBuiltInPredictor(config.featureGates.Predictor, config.predictor.addr) },
    multiClusterService: config.featureGates.MultiClusterService,
    tunnel: {
      enabled: config.featureGates.SocketConnection,
      parentUrl: config.registration.parentUrl,
      childServer: child.getCurrentCluster()?.server ?? '',
    },
  };
}

/** The log lines the children's reports call for: registered; the tunnel failing and working again. */
function reportLogger(w: Wiring): (r: ChildReport) => void {
  const tunnel = tunnelReportLog(w.log.child({ component: 'tunnel' }));
  return (r) => {
    if (r.type === 'registration.registered')
      w.log.info(
        { clusterId: r.clusterId, clusterName: r.clusterName, dedicatedNamespace: r.dedicatedNamespace },
        `registered with ${redactUrls(w.config.registration.parentUrl)} as cluster ${r.clusterName ?? ''} (${r.clusterId})`,
      );
    else tunnel(r);
  };
}

/** Subscribes the log, the metrics and the inspector to the outward stream (before the actor starts). */
function subscribeOutputs(w: Wiring, h$: Observable<AgentHappening>): Subscription[] {
  const { metrics, log } = w;
  const inspectorUrl = w.config.extensions.statechartInspector;
  return [
    inspections(h$).subscribe(
      transitionLogger(log.child({ component: 'transitions' }), {
        routine: new Map([
          ['leadership', routineLeadershipStates],
          ['registration', routineRegistrationStates],
          ['heartbeat', [routineHeartbeatStates]],
          ['socket', [routineSocketStates]],
          ['deployer', [deployerStartupStates]],
        ]),
        // The tunnel says each new kind of failure and its recovery itself (its reports, logged above).
        selfReporting: new Set(['socket']),
        // A helm run's outcome is the reconcile's (its status and Events); its steps are debug.
        quiet: new Set([helmRunMachine.id]),
      }),
    ),
    // workqueue_* from the deployer's queue as its snapshots show it.
    inspections(h$).subscribe(metrics.workQueue.inspector('deployer')),
    ...(inspectorUrl === undefined ? [] : [inspections(h$).subscribe(statechartInspector(inspectorUrl, log))]),
    h$.subscribe((h) => {
      if (h.kind === 'transition') metrics.observeTransition(h.transition, h.of.actor);
      if (h.kind === 'ended') metrics.observeEnd(h.of.actor);
    }),
    roots(h$).subscribe(([before, now]) => {
      metrics.observeRoot(now, before);
    }),
    reports(h$).subscribe((r) => {
      metrics.observeReport(r);
    }),
    reports(h$).subscribe(reportLogger(w)),
    // Said once each time the reason changes, not at every retry; the metric carries the reason.
    heldUp(h$).subscribe((held) => {
      metrics.setRegistrationProblem(held?.reason);
      if (held !== undefined) log.warn({ component: 'registration', reason: held.reason }, held.message);
    }),
  ];
}

/** The root's tags, each change with the tags before it. */
function roots(h$: Observable<AgentHappening>): Observable<[RootTags, RootTags]> {
  const none: RootTags = { leading: false, registered: false };
  return h$.pipe(
    filter((h) => h.kind === 'root'),
    map((h) => h.tags),
    startWith(none),
    pairwise(),
  );
}

/** How the root actor ends: its output's failure, or an error (a bug): logged, and the exit code. */
function exitOf(actor: Actor<typeof agentMachine>, log: Logger): Promise<AgentExit> {
  return new Promise<AgentExit>((resolve) => {
    actor.subscribe({
      complete: () => {
        const failure = actor.getSnapshot().output?.failure;
        if (failure !== undefined) log.fatal({ failure }, 'a component failed unexpectedly');
        else log.info('stopped');
        resolve(failure === undefined ? { code: 0 } : { code: 1, failure });
      },
      error: (err: unknown) => {
        // A bug, not an expected failure: log and end non-zero; Kubernetes restarts us.
        log.fatal({ err }, 'the agent failed unexpectedly');
        resolve({ code: 1, failure: err instanceof Error ? err.message : String(err) });
      },
    });
  });
}

export function startAgent(config: AgentConfig, log: Logger, opts: AgentOptions = {}): RunningAgent {
  const w = connectWiring(config, log, opts);
  const identity = electionIdentity();
  const inspection$ = new Subject<InspectionEvent>();
  const happenings = agentHappenings(inspection$);
  let current: Readiness = { ready: false, reasons: ['not registered (standing by, or registering)'] };
  const subs = [
    ...subscribeOutputs(w, happenings),
    readiness(happenings, config.featureGates.SocketConnection).subscribe((r) => {
      current = r;
    }),
  ];
  const input = agentInput(config, w.child, identity);
  const inspect = (ev: InspectionEvent): void => {
    inspection$.next(ev);
  };
  const actor = createActor(agentWithEffects(w, input, inspect), {
    input,
    inspect,
    // Every delay of every machine (children share the root's clock) waits as long as asked, even
    // past Node's 2^31 ms limit (a 600h period); and before any of them acts, leadership checks its
    // work deadline. The one event an effect sends the root: the clock is outside every chart, and
    // `lease.check` must reach leadership before the timer's own work runs, in the same turn.
    clock: checkBeforeTimers(actorClock, () => {
      actor.send({ type: 'lease.check' });
    }),
  });
  const exited = exitOf(actor, log);
  void exited.then(() => {
    for (const s of subs) s.unsubscribe();
    inspection$.complete();
  });
  const le = config.leaderElection;
  log.info({ identity, lease: `${config.systemNamespace}/${le.leaseName}`, leaderElect: le.enabled }, 'campaigning');
  actor.start();
  return {
    actor,
    identity,
    metrics: w.metrics,
    readiness: () => current,
    happenings,
    exited,
    stop: () => {
      actor.send({ type: 'agent.stop' });
    },
  };
}
